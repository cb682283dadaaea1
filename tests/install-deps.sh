#!/usr/bin/env bash
# Install everything Tern's build, tests, fuzzers and benchmarks need on a
# Debian/Ubuntu machine: system packages with apt-get, Python packages with
# pip into a virtual environment at .venv (so nothing touches the system
# Python). Safe to run again. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  build-essential autoconf automake libtool pkg-config
  libevent-dev libsodium-dev libmsgpack-dev libjansson-dev libcrypt-dev check
  libraft-dev libuv1-dev
  libssl-dev openssl
  zlib1g-dev
  clang libclang-rt-14-dev
  nats-server
  python3 python3-venv python3-pip
  curl
  iptables iproute2 faketime fuse3
  chromium chromium-driver
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Prometheus itself, for test_41_metrics' real scrape of /metrics (the test
# skips without it). Its recommended node exporter is not needed.
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed"; then
  echo "install-deps: apt-get install prometheus"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

if [ ! -x .venv/bin/python3 ]; then
  /usr/bin/python3 -m venv .venv
fi
.venv/bin/python3 -m pip install -q --disable-pip-version-check -r tests/requirements.txt
echo "install-deps: done"
