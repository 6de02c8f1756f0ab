namespace Decentralized.Cli;

/// <summary>The daemon's status page: polls /status and draws the round, members, awaited peers, traffic and a loss curve.</summary>
public static class StatusPage
{
    public const string Html = """
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>decentralized node</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}td,th{padding:.2em .8em;text-align:left}
.awaited{color:#b45309}#curve{border:1px solid #ccc}</style></head>
<body><h1>decentralized node <span id="peer"></span></h1>
<p>Round <b id="round">?</b>, step <b id="step">?</b>, loss <b id="loss">?</b>, validation loss <b id="val">?</b></p>
<p>Waiting for: <span id="awaited" class="awaited">nobody</span></p>
<h2>Connections</h2><table id="connections"><thead><tr><th>peer</th><th>relayed</th><th>bytes in</th><th>bytes out</th><th>round</th></tr></thead><tbody></tbody></table>
<h2>Loss</h2><canvas id="curve" width="600" height="200"></canvas>
<script>
const points=[];
async function refresh(){
 const s=await (await fetch('/status')).json();
 document.getElementById('peer').textContent=s.peer_id;
 document.getElementById('round').textContent=s.round;
 document.getElementById('step').textContent=s.step;
 document.getElementById('loss').textContent=s.loss==null?'?':s.loss.toFixed(4);
 document.getElementById('val').textContent=s.val_loss==null?'?':s.val_loss.toFixed(4);
 document.getElementById('awaited').textContent=s.awaited.length?s.awaited.join(', '):'nobody';
 const body=document.querySelector('#connections tbody');body.innerHTML='';
 for(const c of s.connections){const r=body.insertRow();for(const v of [c.peer_id,c.relayed,c.bytes_in,c.bytes_out,c.round??''])r.insertCell().textContent=v;}
 if(s.loss!=null){points.push(s.loss);draw();}
}
function draw(){const c=document.getElementById('curve'),g=c.getContext('2d');g.clearRect(0,0,c.width,c.height);
 const max=Math.max(...points),min=Math.min(...points);g.beginPath();
 points.forEach((p,i)=>{const x=i*c.width/Math.max(1,points.length-1),y=c.height-(p-min)/Math.max(1e-9,max-min)*(c.height-10)-5;i?g.lineTo(x,y):g.moveTo(x,y);});g.stroke();}
refresh();setInterval(refresh,2000);
</script></body></html>
""";
}
