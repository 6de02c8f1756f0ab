#!/usr/bin/env bash
# How long a joiner takes to fetch the training state from one donor and from three: real `node run` daemons on
# loopback, each donor's state upload capped at --rate MiB/s (--state-upload-mib) so loopback behaves like uplinks.
# Usage: scripts/sync-bench.sh [--rate MiB/s] [--model tiny|small]    (prints one line per swarm size)
set -euo pipefail
cd "$(dirname "$0")/.."
rate=0.25; model=tiny
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    *) echo "usage: $0 [--rate MiB/s] [--model tiny|small]" >&2; exit 2 ;;
  esac
done
dotnet build node/Decentralized.Cli/Decentralized.Cli.csproj -c Release -nologo -clp:ErrorsOnly >/dev/null
dll=$(ls node/Decentralized.Cli/bin/Release/net*/decentralized.dll | head -1)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
common=(--model "$model" --batch-size 4 --seq-len 32 --inner-steps 100 --device cpu --threads 1 --heartbeat 0.5
  --peer-timeout 4 --listen /ip4/127.0.0.1/tcp/0 --state-upload-mib "$rate" --state-chunk-kib 64)

wait_for() { local pattern=$1 file=$2; for _ in $(seq 1 1200); do grep -q "$pattern" "$file" 2>/dev/null && return 0; sleep 0.25; done; echo "timed out waiting for $pattern in $file" >&2; exit 1; }

measure() {
  local n=$1 dir="$work/donors$1"
  mkdir -p "$dir"; pids=()
  dotnet "$dll" node run "${common[@]}" --min-peers "$n" --key-file "$dir/d1.key" --data-dir "$dir/d1" >"$dir/d1.out" 2>"$dir/d1.err" & pids+=($!)
  wait_for '"listening"' "$dir/d1.out"
  local addr; addr=$(grep '"listening"' "$dir/d1.out" | head -1 | sed 's/.*"addrs":\["\([^"]*\)".*/\1/')
  for i in $(seq 2 "$n"); do
    dotnet "$dll" node run "${common[@]}" --bootstrap "$addr" --key-file "$dir/d$i.key" --data-dir "$dir/d$i" >"$dir/d$i.out" 2>"$dir/d$i.err" & pids+=($!)
  done
  wait_for '"round":2' "$dir/d1.out"
  dotnet "$dll" node run "${common[@]}" --bootstrap "$addr" --key-file "$dir/j.key" --data-dir "$dir/j" >"$dir/j.out" 2>"$dir/j.err" & pids+=($!)
  wait_for 'joined at round' "$dir/j.err"
  echo "$n donor(s), $rate MiB/s each: $(grep -o 'joined at round.*' "$dir/j.err" | head -1)"
  kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true
}

measure 1
measure 3
