#!/bin/bash
# One short comparison: DDP and DiLoCo (H=50), K=4, 300 steps, seed 1, tiny model, batch 8, held-out split; both inits.
cli=node/Decentralized.Cli/bin/Release/net10.0/decentralized.dll
for init in gpt2 torch; do for alg in ddp diloco; do
  rm -f /tmp/init-short-$alg-$init.ckpt
  dotnet $cli train --algorithm $alg --init $init --model tiny --batch-size 8 --steps 300 --seed 1 --eval-every 100 --eval-batches 64 \
    --device cpu --threads 1 --checkpoint /tmp/init-short-$alg-$init.ckpt \
    --report results/init-short/$alg-$init.json > results/init-short/$alg-$init.log 2>&1
done; done
