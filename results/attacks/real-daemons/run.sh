#!/bin/bash
# Real daemons (swarm local), 4 peers, 10 rounds, H=20, tiny model: honest peers' final validation loss, clean vs one liar.
B=node/Decentralized.Cli/bin/Release/net10.0/decentralized.dll   # run from the repository root after scripts/demo.sh has built it
for alg in diloco noloco sparseloco; do
  for mode in none flip random garbage-text; do
    extra=(); [ $mode != none ] && extra=(--misbehave peer3=$mode)
    dotnet $B swarm local --peers 4 --rounds 10 --algorithm $alg "${extra[@]}" --dir /tmp/real-$alg-$mode --json > $alg-$mode.json 2> $alg-$mode.log
    echo "$alg $mode rc=$?"
  done
done
