#!/usr/bin/env bash
# Builds the node and runs the main job on the embedded default corpus (no download needed).
# Extra arguments go to the command, e.g. scripts/demo.sh --steps 200
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build node/Decentralized.Cli/Decentralized.Cli.csproj -c Release -nologo -clp:ErrorsOnly
exec dotnet node/Decentralized.Cli/bin/Release/net10.0/decentralized.dll train --replicas 4 --algorithm noloco --steps 400 --inner-steps 50 "$@"
