#!/usr/bin/env bash
# bench/peers/python/run.sh: start the Python peer (FastAPI + uvicorn) in the foreground.
#
# Environment: HOST (default 127.0.0.1), PORT (required), REDIS_URL (default
# redis://127.0.0.1:6379), JWT_SECRET (required). The script execs uvicorn, so its PID is the
# server's (RSS and CPU are sampled from /proc/PID). Ready when PORT accepts connections.
# Only errors reach stderr (no access log). One worker, no --reload. --ws websockets names
# the implementation uvicorn's "auto" would pick anyway (python3-websockets is installed),
# so a missing package fails at startup instead of silently switching to wsproto.
set -euo pipefail
: "${PORT:?PORT is required}"
: "${JWT_SECRET:?JWT_SECRET is required}"
export JWT_SECRET
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
cd "$(dirname "$0")"
# Debian's interpreter: the first python3 on PATH may be a separate build without Debian's modules.
exec /usr/bin/python3 -m uvicorn gateway.main:app --host "${HOST:-127.0.0.1}" --port "$PORT" \
  --ws websockets --log-level error --no-access-log
