#!/usr/bin/env bash
# Installs what the NAT tests need: iproute2 (ip netns, veth) and nftables (masquerade, drop rules).
# Only as root (or with passwordless sudo) on Debian/Ubuntu; otherwise says why and leaves the tests to skip.
# Idempotent; called from scripts/setup.sh.
set -uo pipefail

if command -v ip >/dev/null && command -v nft >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo="sudo -n"
else
  echo "setup-netns: nft/ip missing and not root (no passwordless sudo); NAT namespace tests will report themselves skipped" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup-netns: no apt-get; install nftables and iproute2 by hand to run the NAT namespace tests" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -qq nftables iproute2 >/dev/null 2>&1 \
  || { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq nftables iproute2 >/dev/null 2>&1; } \
  || echo "setup-netns: apt-get could not install nftables/iproute2; NAT namespace tests will report themselves skipped" >&2
exit 0
