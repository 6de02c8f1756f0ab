namespace Decentralized.Cli;

/// <summary>
/// The daemon's status page. It polls /status every second and shows what "why am I waiting?" needs: the round and
/// who it waits for, the last round's outcome, the members and their rounds, per-peer traffic and measured
/// throughput, joiners being served, the process's resources and the loss curve (SVG, drawn from the daemon's
/// bounded loss history, so a freshly opened page shows the whole run). No external assets: it works offline.
/// </summary>
public static class StatusPage
{
    public const string Html = """
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>decentralized node</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:72em}td,th{padding:.2em .8em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.awaited{color:#b45309;font-weight:bold}.muted{color:#666}
svg{border:1px solid #ccc;background:#fff}#train-line{stroke:#2563eb}#val-line{stroke:#dc2626}polyline{fill:none;stroke-width:1.5}
#error{color:#b91c1c}</style></head>
<body><h1>decentralized node <code id="peer">…</code></h1>
<p id="error"></p>
<p>Round <b id="round">?</b> (<span id="in-round">?</span> inner steps done), step <b id="step">?</b>, <span id="algorithm"></span>,
 loss <b id="loss">?</b>, validation loss <b id="val">?</b></p>
<p>Waiting for: <span id="awaited" class="awaited">nobody</span></p>
<p>Left out of pairing (missed 3 rounds in a row, until they send again): <span id="suspended" class="awaited">nobody</span></p>
<p>Excluded (3 negative scores in a row: scored, not applied, until they score positive): <span id="excluded" class="awaited">nobody</span></p>
<p>Last round: <span id="last-round" class="muted">none yet</span></p>
<h2>Members</h2><table id="members"><thead><tr><th>peer</th><th>round</th><th>step</th><th>last seen</th><th>awaited</th></tr></thead><tbody></tbody></table>
<h2>Connections</h2><table id="connections"><thead><tr><th>peer</th><th>relayed</th><th>bytes in</th><th>bytes out</th><th>in/s</th><th>out/s</th><th>rtt</th><th>round</th></tr></thead><tbody></tbody></table>
<h2>Joiners</h2><p>Serving now: <span id="joiners-serving">none</span></p>
<table id="joiners-served"><thead><tr><th>served to</th><th>bytes</th><th>took</th><th>finished</th><th>result</th></tr></thead><tbody></tbody></table>
<h2>Loss</h2><p><span style="color:#2563eb">training loss (each step)</span> · <span style="color:#dc2626">validation loss (after each round)</span> · <span id="curve-range" class="muted"></span></p>
<svg id="loss-curve" width="680" height="260" viewBox="0 0 680 260"><g id="axes"></g><polyline id="train-line" points=""/><polyline id="val-line" points=""/></svg>
<h2>Process</h2><p id="process">?</p>
<script>
const $=id=>document.getElementById(id);
function bytes(b){const u=['B','KiB','MiB','GiB','TiB'];let i=0;while(b>=1024&&i<u.length-1){b/=1024;i++;}return (i?b.toFixed(1):b.toFixed(0))+' '+u[i];}
function short(id){return id.length>12?'…'+id.slice(-6):id;}
function secs(s){return s==null?'':s<60?s.toFixed(1)+' s':(s/60).toFixed(1)+' min';}
function fill(table,rows){const body=document.querySelector('#'+table+' tbody');body.innerHTML='';
 for(const r of rows){const tr=body.insertRow();tr.dataset.peer=r.peer;for(const [v,num] of r.cells){const td=tr.insertCell();td.textContent=v;if(num)td.className='n';}}}
// One chart, one scale: both curves share the x axis (inner step) and the y axis (loss in nats per token), with ticks.
const W=680,H=260,L=56,R=12,T=10,B=38;
function ticks(a,b,n){const span=Math.max(1e-9,b-a),step0=span/n,mag=Math.pow(10,Math.floor(Math.log10(step0)));
 const step=[1,2,5,10].map(m=>m*mag).find(s=>s>=step0);const out=[];for(let v=Math.ceil(a/step)*step;v<=b+1e-9;v+=step)out.push(+v.toFixed(10));return out;}
function chart(series){const all=series.flatMap(s=>s.pts);const axes=$('axes');axes.innerHTML='';
 if(all.length<2){for(const s of series)s.el.setAttribute('points','');return null;}
 const xs=all.map(p=>p[0]),ys=all.map(p=>p[1]);let x0=Math.min(...xs),x1=Math.max(...xs),y0=Math.min(...ys),y1=Math.max(...ys);
 if(x1===x0)x1=x0+1;const pad=(y1-y0)*0.05||0.05;y0-=pad;y1+=pad;
 const X=x=>L+(x-x0)/(x1-x0)*(W-L-R),Y=y=>H-B-(y-y0)/(y1-y0)*(H-T-B);const ns='http://www.w3.org/2000/svg';
 const add=(tag,attrs,text)=>{const e=document.createElementNS(ns,tag);for(const k in attrs)e.setAttribute(k,attrs[k]);if(text!=null)e.textContent=text;axes.appendChild(e);};
 add('line',{x1:L,y1:H-B,x2:W-R,y2:H-B,stroke:'#444'});add('line',{x1:L,y1:T,x2:L,y2:H-B,stroke:'#444'});
 for(const v of ticks(y0,y1,5)){add('line',{x1:L-4,y1:Y(v),x2:W-R,y2:Y(v),stroke:'#eee'});add('text',{x:L-6,y:Y(v)+4,'text-anchor':'end','font-size':11},v.toFixed(2));}
 for(const v of ticks(x0,x1,6)){add('line',{x1:X(v),y1:H-B,x2:X(v),y2:H-B+4,stroke:'#444'});add('text',{x:X(v),y:H-B+16,'text-anchor':'middle','font-size':11},Math.round(v));}
 add('text',{x:(L+W-R)/2,y:H-4,'text-anchor':'middle','font-size':12},'inner step');
 add('text',{x:14,y:(T+H-B)/2,'text-anchor':'middle','font-size':12,transform:`rotate(-90 14 ${(T+H-B)/2})`},'loss (nats per token)');
 for(const s of series)s.el.setAttribute('points',s.pts.length<2&&s.pts.length!==1?'':s.pts.map(p=>X(p[0]).toFixed(1)+','+Y(p[1]).toFixed(1)).join(' '));
 return [Math.min(...series[0].pts.map(p=>p[1])),Math.max(...series[0].pts.map(p=>p[1]))];}
async function refresh(){
 let s;
 try{s=await (await fetch('/status',{cache:'no-store'})).json();$('error').textContent='';}
 catch(e){$('error').textContent='node not answering: '+e;return;}
 $('peer').textContent=s.peer_id;$('round').textContent=s.round;$('step').textContent=s.step;
 $('in-round').textContent=s.steps_in_round+'/'+s.inner_steps;$('algorithm').textContent=s.algorithm;
 $('loss').textContent=s.loss==null?'?':s.loss.toFixed(4);$('val').textContent=s.val_loss==null?'?':s.val_loss.toFixed(4);
 $('awaited').textContent=s.awaited.length?s.awaited.join(', '):'nobody';
 $('suspended').textContent=s.suspended.length?s.suspended.join(', '):'nobody';
 $('excluded').textContent=s.excluded&&s.excluded.length?s.excluded.join(', '):'nobody';
 const l=s.last_round;
 $('last-round').textContent=l?`round ${l.round}: waited ${l.wait_seconds.toFixed(1)} s for [${l.partners.join(', ')}], used [${l.received.join(', ')}], closed: ${l.closed}`:'none yet';
 fill('members',s.membership.map(m=>({peer:m.peer_id,cells:[[m.peer_id],[m.round,1],[m.step,1],[secs(m.seen_seconds_ago)+' ago'],[m.awaited?'yes':m.suspended?'left out':m.excluded?'excluded':'']]})));
 fill('connections',s.connections.map(c=>({peer:c.peer_id,cells:[[c.peer_id],[c.relayed?'yes':'no'],[bytes(c.bytes_in),1],[bytes(c.bytes_out),1],
  [bytes(c.in_bytes_per_second)+'/s',1],[bytes(c.out_bytes_per_second)+'/s',1],[c.rtt_ms==null?'':c.rtt_ms.toFixed(1)+' ms',1],[c.round??'',1]]})));
 const j=s.joiners;
 $('joiners-serving').textContent=j.serving.length?j.serving.map(t=>`${t.peer_id} (${bytes(t.bytes)}, ${secs(t.seconds)})`).join(', '):'none';
 fill('joiners-served',j.served.map(t=>({peer:t.peer_id,cells:[[t.peer_id],[bytes(t.bytes),1],[secs(t.seconds),1],[secs(t.finished_seconds_ago)+' ago'],[t.failed?'ended early':'ok']]})));
 const p=s.process;
 $('process').textContent=`resident ${bytes(p.resident_bytes)}, managed heap ${bytes(p.managed_heap_bytes)}, live tensors ${p.live_tensors}, open files ${p.open_files}, threads ${p.threads}`;
 const r=chart([{el:$('train-line'),pts:s.loss_curve},{el:$('val-line'),pts:s.val_curve}]);
 $('curve-range').textContent=r?`training loss ${r[1].toFixed(3)} → ${s.loss_curve[s.loss_curve.length-1][1].toFixed(3)} over ${s.loss_curve.length} points`:'waiting for two steps';
}
refresh();setInterval(refresh,1000);
</script></body></html>
""";
}
