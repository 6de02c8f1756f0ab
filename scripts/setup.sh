#!/usr/bin/env bash
# Installs what the tests need beyond the .NET SDK: the js-libp2p interop peer (npm), headless Chromium with
# its WebDriver (Debian's chromium + chromium-driver) for the status page test, and nftables/iproute2 for the NAT
# namespace tests.
# Idempotent; safe to run on every CI start.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK (dotnet) is required" >&2; exit 2; }

if command -v node >/dev/null && command -v npm >/dev/null; then
  scripts/interop/setup.sh || echo "setup: js-libp2p peer could not be installed; interop tests will report themselves skipped" >&2
else
  echo "setup: node/npm not found; js-libp2p interop tests will report themselves skipped" >&2
fi

# The status page browser test drives /usr/bin/chromium through /usr/bin/chromedriver (Debian packages; the
# driver's version always matches the browser's). Installed only when missing, and only where apt-get can run.
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  :
elif command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
  echo "setup: installing chromium and chromium-driver (status page browser test)" >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null \
    || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; }; } \
    || echo "setup: chromium could not be installed; the status page browser test will report itself skipped" >&2
else
  echo "setup: chromium/chromedriver missing and apt-get unavailable (or not root); the status page browser test will report itself skipped" >&2
fi

scripts/setup-netns.sh
