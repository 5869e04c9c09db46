#!/usr/bin/env bash
# bench/peers/install.sh: installs what the benchmark's peer gateways need, skipping what is
# already there, so it is quiet and quick on a second run.
#
#   python/: Debian's FastAPI, uvicorn, redis-py, PyJWT and websockets (for /usr/bin/python3).
#   node/:   Node.js 20+ (the machine image's; Debian 12's own nodejs is 18, too old for
#            ioredis 6) and `npm ci` from the committed package-lock.json whenever
#            node_modules is missing or older than the lock file.
#   smoke.sh also needs redis-server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

packages=(python3 python3-fastapi python3-uvicorn python3-redis python3-jwt python3-websockets
  redis-server)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "peers: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "peers: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [[ $node_major -lt 20 ]]; then
  echo "peers: the node peer needs Node.js 20 or newer (found $(node --version))" >&2
  exit 1
fi

# npm writes node_modules/.package-lock.json on every install: older than the lock file (or
# absent) means node_modules is stale.
node_dir=$here/node
if [[ ! -e $node_dir/node_modules/.package-lock.json ||
      $node_dir/package-lock.json -nt $node_dir/node_modules/.package-lock.json ]]; then
  echo "peers: npm ci in bench/peers/node" >&2
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
