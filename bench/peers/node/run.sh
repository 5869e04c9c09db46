#!/usr/bin/env bash
# bench/peers/node/run.sh: start the Node.js peer in the foreground.
#
# Environment: HOST (default 127.0.0.1), PORT (required), REDIS_URL (default
# redis://127.0.0.1:6379), JWT_SECRET (required). The script execs node, so its PID is the
# server's (RSS and CPU are sampled from /proc/PID). Ready when PORT accepts connections. Only
# errors reach stderr. Run bench/peers/install.sh first (node_modules).
set -euo pipefail
: "${PORT:?PORT is required}"
: "${JWT_SECRET:?JWT_SECRET is required}"
export PORT JWT_SECRET HOST=${HOST:-127.0.0.1} REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export NODE_ENV=production
cd "$(dirname "$0")"
[[ -d node_modules ]] || { echo "node peer: node_modules missing; run bench/peers/install.sh" >&2; exit 1; }
exec /usr/bin/node server.js
