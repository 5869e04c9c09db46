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
  haproxy  # tests/integration/many_gateways_test.cpp; deploy/haproxy/haproxy.cfg
  help2man dpkg-dev file  # make install, make package: man page; CPack DEB dependencies
  python3 python3-websockets python3-redis python3-pytest python3-jwt
  clang libclang-rt-14-dev llvm  # make fuzz, make test-sanitize: runtimes, llvm-symbolizer
  chromium  # tests/e2e: the demo page in headless Chromium
)
# tests/e2e runs on Node.js 20+ with npm; Debian 12's own nodejs is 18, so an existing
# (newer) installation is kept and Debian's is installed only when there is none.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  [[ $p == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "wsgate: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "wsgate: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# playwright-core for tests/e2e, at the version package-lock.json pins; again only when the
# lock file changed since the last install.
e2e="$(dirname "$0")/../tests/e2e"
if [[ ! -e $e2e/node_modules/.package-lock.json || $e2e/package-lock.json -nt $e2e/node_modules/.package-lock.json ]]; then
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  if [[ $node_major -lt 20 ]]; then
    echo "wsgate: tests/e2e needs Node.js 20 or newer (found $(node --version)); the demo page test will fail until a newer Node.js is installed" >&2
  else
    echo "wsgate: installing tests/e2e's npm packages" >&2
    (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
