#!/usr/bin/env bash
# js<->js self test: starts a listener, dials it with a bulk transfer and an
# echo transfer, checks that both ends agree on the SHA-256 of the data, and
# prints the measured MB/s. Exits non-zero on any failure.
#   usage: ./selftest.sh [BYTES]        (default 67108864 = 64 MiB)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bytes="${1:-67108864}"

./setup.sh >/dev/null
work="$(mktemp -d)"
listener_pid=""
cleanup() {
  if [ -n "$listener_pid" ]; then kill "$listener_pid" 2>/dev/null || true; wait "$listener_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --ignore-stdin: a background job's stdin is /dev/null, which would stop it at once.
node --import ./polyfill.mjs peer.mjs listen --port 0 --ignore-stdin --events >"$work/listener.out" 2>"$work/listener.err" &
listener_pid=$!

for _ in $(seq 1 100); do
  if grep -q '"event":"ready"' "$work/listener.out" 2>/dev/null; then break; fi
  if ! kill -0 "$listener_pid" 2>/dev/null; then echo "selftest: listener exited" >&2; cat "$work/listener.err" >&2; exit 1; fi
  sleep 0.1
done
ready="$(grep -m1 '"event":"ready"' "$work/listener.out")" || { echo "selftest: listener not ready after 10 s" >&2; exit 1; }
addr="$(node -e 'console.log(JSON.parse(process.argv[1]).addrs[0])' "$ready")"
echo "listener: $addr"

# field LINE NAME: one field of a JSON line.
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$1" "$2"; }

node --import ./polyfill.mjs peer.mjs dial "$addr" --bytes "$bytes" >"$work/bulk.out" \
  || { echo "selftest: bulk dial failed:" >&2; cat "$work/bulk.out" >&2; exit 1; }
bulk="$(grep -m1 '"event":"bulk"' "$work/bulk.out")"
[ "$(field "$bulk" sha256)" = "$(field "$bulk" remoteSha256)" ] || { echo "selftest: bulk digest mismatch: $bulk" >&2; exit 1; }
grep -q '"identified":true' "$work/bulk.out" || { echo "selftest: identify did not complete" >&2; exit 1; }
grep -q '"event":"ping"' "$work/bulk.out" || { echo "selftest: no ping" >&2; exit 1; }

node --import ./polyfill.mjs peer.mjs dial "$addr" --bytes "$bytes" --echo --no-ping >"$work/echo.out" \
  || { echo "selftest: echo dial failed:" >&2; cat "$work/echo.out" >&2; exit 1; }
echo_line="$(grep -m1 '"event":"echo"' "$work/echo.out")"
[ "$(field "$echo_line" sha256)" = "$(field "$echo_line" echoSha256)" ] || { echo "selftest: echo mismatch: $echo_line" >&2; exit 1; }

# The listener's own view of the bulk transfer must match too.
received="$(grep -m1 '"event":"bulk-received"' "$work/listener.out")"
[ "$(field "$received" sha256)" = "$(field "$bulk" sha256)" ] || { echo "selftest: listener saw other bytes: $received" >&2; exit 1; }

echo "bulk one-way: $(field "$bulk" mbPerSec) MB/s  ($bytes bytes, sha256 $(field "$bulk" sha256))"
echo "echo round trip: $(field "$echo_line" mbPerSec) MB/s"
echo "selftest: OK"
