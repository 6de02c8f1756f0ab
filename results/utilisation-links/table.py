import json,sys,os
import os
rate=float(os.environ.get("RATE","463e3"))/8; H=int(os.environ.get("H","25"))
for name in sys.argv[1:]:
    f=f'{name}.json'
    if not os.path.exists(f) or os.path.getsize(f)==0: print(name,'missing'); continue
    d=json.load(open(f)); ps=d['peers']
    steps=[H*p['rounds'] for p in ps]
    tstep=sum(p['inner_step_seconds'] for p in ps)/sum(steps)
    payload=max(p['update_bytes_sent'] for p in ps)/(3*max(p['rounds'] for p in ps))
    ratio=(payload/rate)/(H*tstep)
    us=[p['utilisation'] for p in ps]
    print(f"| {name} | {d['utilisation']:.1%} ({min(us):.0%}-{max(us):.0%}) | {tstep:.3f} s | {payload:,.0f} B | {ratio:.2f} | {sum(p['wait_seconds'] for p in ps)/len(ps):.1f} s | {sum(p['training_seconds'] for p in ps)/len(ps):.1f} s | {sum(p['final_val_loss'] for p in ps)/len(ps):.3f} | rounds {[p['rounds'] for p in ps]}")
