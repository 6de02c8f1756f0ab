#!/bin/bash
# The same swarm with swarm local's peers on shards i of N (as train's replicas), then the whole-split eval.
cd /work/measure
D="dotnet node/Decentralized.Cli/bin/Release/net10.0/decentralized.dll"
OUT=/work/measure-out
rm -rf $OUT/swarm2
s=$(date +%s.%N)
$D swarm local --peers 4 --model small --algorithm diloco --inner-steps 20 --rounds 85 --dir $OUT/swarm2 --json \
  --node-args "--sync-warmup 300 --compress q4:bf16+ef+ans --batch-size 4 --eval-batches 4" > $OUT/swarm2.json 2> $OUT/swarm2.err
echo "swarm2 exit $? wall $(echo "$(date +%s.%N) - $s" | bc)" >> $OUT/times.txt
for p in 0 3; do
  $D eval --model $OUT/swarm2/peer$p --split validation --batch-size 4 --json > $OUT/eval2-peer$p.json 2>> $OUT/eval2.err
done
echo "evals2 done $(date)" >> $OUT/times.txt
