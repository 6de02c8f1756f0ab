#!/usr/bin/env bash
# Installs what the tests need beyond the .NET SDK: the js-libp2p interop peer (npm), and nftables/iproute2
# for the NAT namespace tests.
# Idempotent; safe to run on every CI start.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK (dotnet) is required" >&2; exit 2; }

if command -v node >/dev/null && command -v npm >/dev/null; then
  scripts/interop/setup.sh || echo "setup: js-libp2p peer could not be installed; interop tests will report themselves skipped" >&2
else
  echo "setup: node/npm not found; js-libp2p interop tests will report themselves skipped" >&2
fi

scripts/setup-netns.sh
