#!/usr/bin/env bash
# Installs the pinned js-libp2p peer (scripts/interop/node_modules) from
# package-lock.json. Idempotent and cheap when already installed, so test
# fixtures may call it before every run. Exits non-zero when node/npm are
# missing, too old, or the install fails: callers decide whether to skip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v node >/dev/null 2>&1; then
  echo "interop setup: 'node' not found on PATH (need Node.js >= 20)" >&2
  exit 2
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "interop setup: Node.js $(node -v) is too old (need >= 20)" >&2
  exit 2
fi

# npm ci writes node_modules/.package-lock.json; an install is stale when the
# committed lock is newer than that marker or the marker is missing.
installed() {
  [ -f node_modules/.package-lock.json ] &&
    [ ! package-lock.json -nt node_modules/.package-lock.json ] &&
    [ -f node_modules/libp2p/package.json ]
}

install() {
  if installed; then return 0; fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "interop setup: 'npm' not found on PATH" >&2
    exit 2
  fi
  echo "interop setup: installing pinned packages with npm ci" >&2
  if ! npm ci --no-audit --no-fund --loglevel=error >&2; then
    echo "interop setup: npm ci failed (offline, or package.json and package-lock.json disagree?)" >&2
    exit 3
  fi
}

# Parallel test processes may call this at once; serialise the install.
if command -v flock >/dev/null 2>&1; then
  exec 9>".setup.lock"
  flock 9
fi
install
echo "interop setup: ready (node $(node -v), libp2p $(node -p 'require("./node_modules/libp2p/package.json").version'))"
