#!/usr/bin/env bash
# Installs the Debian 12 packages wsgate needs to build, run and test, skipping those
# already present. Safe to run repeatedly; `make run`, `make test` and CI call it.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config make
  libboost1.81-all-dev libboost-json1.81-dev libboost-url1.81-dev  # not 1.74: see README
  libssl-dev libhiredis-dev prometheus-cpp-dev libcli11-dev
  libgtest-dev libgmock-dev
  redis-server
  python3 python3-websockets python3-redis python3-pytest python3-jwt
  clang libclang-rt-14-dev llvm  # make fuzz, make test-sanitize: runtimes, llvm-symbolizer
)

missing=()
for p in "${packages[@]}"; do
  [[ $p == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "wsgate: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "wsgate: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
