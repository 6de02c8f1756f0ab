#!/bin/bash
# Utilisation of 4 daemons over the scaled link (see docs/RESULTS.md); one run at a time.
cd "$(dirname "$0")/../.."; mkdir -p "${OUT:-/tmp/utilisation-links}"
DLL=node/Decentralized.Cli/bin/Release/net10.0/decentralized.dll
LINK="--link 556kbit,latency=1ms"
BASE="--eval-batches 1 --batch-size 4 --peer-timeout 120 --round-timeout 600"
run() { name=$1; shift; s=$(date +%s); dotnet $DLL swarm local --peers 4 --algorithm diloco --inner-steps 50 --rounds 3 $LINK --dir ${OUT:-/tmp/utilisation-links}/$name --json --node-args "$BASE $*" > ${OUT:-/tmp/utilisation-links}/$name.json 2> ${OUT:-/tmp/utilisation-links}/$name.err; echo "$name rc=$? wall=$(( $(date +%s) - s ))s" >> ${OUT:-/tmp/utilisation-links}/done.txt; }
run fp32
run fp32-overlap --overlap true
run q4 --compress q4:bf16+ef+ans
run q4-overlap --compress q4:bf16+ef+ans --overlap true
LINK=""; run fp32-unshaped
