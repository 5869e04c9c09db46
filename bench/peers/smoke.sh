#!/usr/bin/env bash
# bench/peers/smoke.sh: proves that each peer gateway meets wsgate's contract. Not part of
# `make test`; run bench/peers/install.sh and build wsgate-load first.
#
# Algorithm: start a private redis-server on a free loopback port (--save "" --appendonly no);
# for each peer in PEERS, start its run.sh on a free port and wait until the port accepts, then
#   1. smoke_client.py: wrong sub / garbage / missing / badly signed / expired / HS384 token
#      are closed with 1008 after the handshake; exact payloads reach every socket of a user as
#      text frames; the channel has no subscriber once the user's last socket closed;
#   2. wsgate-load connect: USERS users all connect and stay open;
#   3. wsgate-load fanout: MESSAGES messages, lost = 0 and every PUBLISH reached a subscriber;
#   4. wsgate-load latency: LAT_RATE msgs/s for LAT_DURATION s, lost = 0, samples recorded;
# then stop the peer with SIGTERM. Everything started here is stopped by PID on exit (trap).
# Every step runs under `timeout`, so the whole script is bounded: about 30 s normally, at most
# about 10 minutes if every step hangs.
#
# Parameters (environment): PEERS="python node", USERS=1000, MESSAGES=5000, LAT_RATE=500,
#   LAT_DURATION=3, LOADGEN (default: wsgate-load from build-bench, build-peers or build).
# Output: one line per check on stdout, the load generator's tables on stderr; exit status 0
# when every check passed, 1 otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS=${PEERS:-python node}
USERS=${USERS:-1000}
MESSAGES=${MESSAGES:-5000}
LAT_RATE=${LAT_RATE:-500}
LAT_DURATION=${LAT_DURATION:-3}
SECRET=peers-smoke-secret-0123456789abcdef0123456789
PY=/usr/bin/python3

if [[ -z ${LOADGEN:-} ]]; then
  for b in build-bench build-peers build; do
    [[ -x $ROOT/$b/wsgate-load ]] && { LOADGEN=$ROOT/$b/wsgate-load; break; }
  done
fi
[[ -x ${LOADGEN:-} ]] || { echo "smoke: wsgate-load not found; build it: ninja -C build-bench wsgate-load (or set LOADGEN)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "smoke: redis-server not found; run bench/peers/install.sh" >&2; exit 1; }

WORK=$(mktemp -d /tmp/peers-smoke.XXXXXX)
REDIS_PID=""
PEER_PID=""
failed=0

stop_pid() {  # stop_pid PID: SIGTERM, up to 10 s, then SIGKILL
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$PEER_PID"
  stop_pid "$REDIS_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_open() {
  $PY -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()' "$1" 2>/dev/null
}
check() {  # check NAME PYTHON-EXPRESSION-OVER-j JSONFILE: evaluate against the JSON line
  local name=$1 expr=$2 file=$3 out
  if out=$($PY - "$file" "$expr" <<'PYEOF'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
j = json.loads(lines[-1]) if lines else {}
c, p = j.get("connect", {}), j.get("publish", {})
ok = eval(sys.argv[2])
print(f"connected={c.get('connected')} open={c.get('open_at_end')} lost={p.get('lost')} "
      f"expected={p.get('expected_deliveries')} zero_receivers={p.get('publish_zero_receivers')} "
      f"p99_us={(j.get('latency') or p.get('latency') or {}).get('p99_us')}")
sys.exit(0 if ok else 1)
PYEOF
  ); then
    echo "  ok   $name: $out"
  else
    echo "  FAIL $name: $out"
    failed=1
  fi
}

# --- Redis ------------------------------------------------------------------------------------
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --maxclients 20000 \
  --loglevel warning --logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$REDIS_PORT" ping >/dev/null || { echo "smoke: redis did not start" >&2; exit 1; }
REDIS_URL=redis://127.0.0.1:$REDIS_PORT

for peer in $PEERS; do
  echo "== $peer peer"
  PORT=$(free_port)
  PORT=$PORT REDIS_URL=$REDIS_URL JWT_SECRET=$SECRET "$HERE/$peer/run.sh" 2>"$WORK/$peer.err" &
  PEER_PID=$!
  for _ in $(seq 100); do port_open "$PORT" && break; kill -0 "$PEER_PID" 2>/dev/null || break; sleep 0.1; done
  if ! port_open "$PORT"; then
    echo "  FAIL $peer did not start:"; cat "$WORK/$peer.err"; failed=1
    stop_pid "$PEER_PID"; PEER_PID=""; continue
  fi

  timeout 60 $PY "$HERE/smoke_client.py" "$PORT" "$REDIS_URL" "$SECRET" || failed=1

  common=(--users "$USERS" --host 127.0.0.1 --port "$PORT" --secret "$SECRET"
          --redis-url "$REDIS_URL" --gateway-pid "$PEER_PID" --connect-timeout 30)
  timeout 60 "$LOADGEN" connect "${common[@]}" --hold 1 >"$WORK/connect.json" 2>"$WORK/connect.txt" || true
  check "connect $USERS users" "c.get('connected') == $USERS and c.get('open_at_end') == $USERS" "$WORK/connect.json"
  timeout 90 "$LOADGEN" fanout "${common[@]}" --messages "$MESSAGES" >"$WORK/fanout.json" 2>"$WORK/fanout.txt" || true
  check "fanout $MESSAGES messages" "c.get('open_at_end') == $USERS and p.get('lost') == 0 and p.get('drained') and p.get('publish_zero_receivers') == 0" "$WORK/fanout.json"
  timeout 60 "$LOADGEN" latency "${common[@]}" --rate "$LAT_RATE" --duration "$LAT_DURATION" >"$WORK/latency.json" 2>"$WORK/latency.txt" || true
  check "latency ${LAT_RATE}/s for ${LAT_DURATION} s" "p.get('lost') == 0 and (j.get('latency') or p.get('latency') or {}).get('samples', 0) > 0" "$WORK/latency.json"
  for m in connect fanout latency; do sed "s/^/    $m: /" "$WORK/$m.txt" >&2; done

  stop_pid "$PEER_PID"; PEER_PID=""
  if [[ -s $WORK/$peer.err ]]; then
    echo "  note: $peer wrote to stderr:"; head -20 "$WORK/$peer.err" | sed 's/^/    /'
  fi
done

if [[ $failed -ne 0 ]]; then echo "smoke: FAILED"; exit 1; fi
echo "smoke: all checks passed"
