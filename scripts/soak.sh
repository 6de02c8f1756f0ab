#!/usr/bin/env bash
# Soak test (issue 10, item 5): a 4-peer loopback swarm for --minutes (default 60), a peer killed (SIGKILL) and
# restarted from its checkpoint every few minutes, a joiner arriving now and then; samples every process's RSS, open
# file handles (/proc), managed heap, live tensors and open connections (its /metrics) into soak.csv, draws soak.png,
# and exits non-zero with a one-line reason if any series grows without bound. Not part of the default test suite.
#
#   scripts/soak.sh [--minutes N] [--out DIR] [--no-build] [--kill-minutes M] [--join-minutes M] [--sample-seconds S] ...
#
# Everything runs under nice: the machine stays usable. Output goes to soak-out/ unless --out says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
args=()
out=soak-out
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0; shift ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

if [ "$build" -eq 1 ]; then
  dotnet build node/Decentralized.Cli/Decentralized.Cli.csproj -c Release -nologo -clp:ErrorsOnly
  dotnet build node/Decentralized.Soak/Decentralized.Soak.csproj -c Release -nologo -clp:ErrorsOnly
fi
node_dll=$(ls node/Decentralized.Cli/bin/Release/net*/decentralized.dll | head -1)
soak_dll=$(ls node/Decentralized.Soak/bin/Release/net*/decentralized-soak.dll | head -1)
rm -rf "$out"
exec nice -n 10 dotnet "$soak_dll" --node "$node_dll" --out "$out" "${args[@]}"
