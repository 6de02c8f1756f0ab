#!/bin/bash
# Issue 21's measurement: 4 real daemons (swarm local, the DiLoCo recipe) against train --algorithm ddp at equal tokens.
cd /work/measure
D="dotnet node/Decentralized.Cli/bin/Release/net10.0/decentralized.dll"
OUT=/work/measure-out
rm -rf $OUT/swarm
s=$(date +%s.%N)
$D swarm local --peers 4 --model small --algorithm diloco --inner-steps 20 --rounds 85 --dir $OUT/swarm --json \
  --node-args "--sync-warmup 300 --compress q4:bf16+ef+ans --batch-size 4 --eval-batches 4" > $OUT/swarm.json 2> $OUT/swarm.err
echo "swarm exit $? wall $(echo "$(date +%s.%N) - $s" | bc)" >> $OUT/times.txt
for p in 0 1 2 3; do
  $D eval --model $OUT/swarm/peer$p --split validation --batch-size 4 --json > $OUT/eval-peer$p.json 2>> $OUT/eval.err
done
echo "evals done $(date)" >> $OUT/times.txt
s=$(date +%s.%N)
rm -f $OUT/ddp.ckpt
$D train --replicas 4 --algorithm ddp --model small --steps 2000 --batch-size 4 --eval-every 0 --eval-batches 100000 --json \
  --checkpoint $OUT/ddp.ckpt > $OUT/ddp.json 2> $OUT/ddp.err
echo "ddp exit $? wall $(echo "$(date +%s.%N) - $s" | bc)" >> $OUT/times.txt
