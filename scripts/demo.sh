#!/usr/bin/env bash
# The main job: builds the node and starts a 4-peer swarm on this machine (separate processes on 127.0.0.1)
# training on the embedded default corpus (no download). Stops by itself after 10 outer rounds per peer;
# Ctrl-C stops it earlier (each peer saves its checkpoint). Extra arguments go to `swarm local`; --peers and
# --rounds given there replace the defaults (e.g. `scripts/demo.sh --rounds 3`).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build node/Decentralized.Cli/Decentralized.Cli.csproj -c Release -nologo -clp:ErrorsOnly
args=("$@")
[[ " $* " == *" --peers"* ]] || args=(--peers 4 "${args[@]}")
[[ " $* " == *" --rounds"* ]] || args=(--rounds 10 "${args[@]}")
exec dotnet node/Decentralized.Cli/bin/Release/net10.0/decentralized.dll swarm local "${args[@]}"
