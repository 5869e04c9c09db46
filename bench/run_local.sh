#!/usr/bin/env bash
# bench/run_local.sh: the local wsgate benchmark, end to end, on one machine.
#
# Algorithm: start a private redis-server (free loopback port, --save "" --appendonly no) on
# LOAD_CPU; for each mode in MODES start a fresh gateway (`wsgate --listen 127.0.0.1:0
# --threads 1`, pinned to GW_CPU with taskset, so every mode gets a clean RSS baseline), run
# wsgate-load against it pinned to LOAD_CPU, then stop the gateway with SIGTERM. Everything
# started here is stopped by PID on exit (trap), including on Ctrl-C or failure.
#
# Parameters (environment):
#   BUILD=build-bench      directory holding wsgate and wsgate-load
#   MODES="connect fanout" any of connect, fanout, latency, in order
#   USERS=10000 CONNS=1    users × connections per user (≤ 19,500 per load process)
#   CONCURRENCY=200        handshakes in flight
#   HOLD=5                 seconds the connect mode holds the connections (RSS sampling)
#   MESSAGES=200000        fanout: messages published
#   PAYLOAD=64             payload bytes
#   RATE=0                 fanout: msgs/s (0 = as fast as the pipeline allows)
#   PIPELINE=1000          PUBLISH commands in flight
#   LAT_RATE=2000 LAT_DURATION=10   latency mode: msgs/s and seconds
#   SOURCE_IPS=127.0.0.2-127.0.0.40
#   GW_CPU=0 LOAD_CPU=1    cores for the gateway, and for the load generator and Redis
#   GW_THREADS=1           gateway shards
#   GW_ARGS=""             extra gateway flags
#   OUT=""                 if set, a directory for the JSON lines, stderr tables and logs
#
# Output: each mode's JSON line on stdout; human tables, gateway logs and progress on stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
MODES=${MODES:-connect fanout}
USERS=${USERS:-10000}
CONNS=${CONNS:-1}
CONCURRENCY=${CONCURRENCY:-200}
HOLD=${HOLD:-5}
MESSAGES=${MESSAGES:-200000}
PAYLOAD=${PAYLOAD:-64}
RATE=${RATE:-0}
PIPELINE=${PIPELINE:-1000}
LAT_RATE=${LAT_RATE:-2000}
LAT_DURATION=${LAT_DURATION:-10}
SOURCE_IPS=${SOURCE_IPS:-127.0.0.2-127.0.0.40}
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
GW_THREADS=${GW_THREADS:-1}
GW_ARGS=${GW_ARGS:-}
OUT=${OUT:-}
SECRET=${SECRET:-wsgate-bench-secret-0123456789abcdef0123456789}

GATEWAY=$BUILD/wsgate
LOADGEN=$BUILD/wsgate-load
for bin in "$GATEWAY" "$LOADGEN"; do
  [[ -x $bin ]] || { echo "run_local: $bin missing; build with ninja -C $BUILD wsgate wsgate-load" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "run_local: redis-server not found" >&2; exit 1; }

WORK=${OUT:-$(mktemp -d /tmp/wsgate-bench.XXXXXX)}
mkdir -p "$WORK"
REDIS_PID=""
GW_PID=""

stop_pid() {  # stop_pid PID: SIGTERM, up to 10 s, then SIGKILL
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$GW_PID"; GW_PID=""
  stop_pid "$REDIS_PID"; REDIS_PID=""
  [[ -z $OUT ]] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- Redis ------------------------------------------------------------------------------------
REDIS_PORT=$(free_port)
taskset -c "$LOAD_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --loglevel warning --logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 50); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$REDIS_PORT" ping >/dev/null || { echo "run_local: redis did not start" >&2; exit 1; }
REDIS_URL=redis://127.0.0.1:$REDIS_PORT

{
  echo "machine: nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')\" kernel=$(uname -r)"
  echo "versions: $(redis-server --version | cut -d' ' -f1-3), hiredis $(pkg-config --modversion hiredis 2>/dev/null || echo '?'), boost $(grep -m1 'define BOOST_LIB_VERSION' /usr/include/boost/version.hpp | cut -d'"' -f2)"
  echo "settings: users=$USERS conns=$CONNS concurrency=$CONCURRENCY hold=$HOLD messages=$MESSAGES payload=$PAYLOAD rate=$RATE pipeline=$PIPELINE gw_cpu=$GW_CPU load_cpu=$LOAD_CPU gw_threads=$GW_THREADS redis=$REDIS_URL"
} >&2

# --- one gateway per mode ---------------------------------------------------------------------
start_gateway() {
  local log=$WORK/gateway-$1.log
  # shellcheck disable=SC2086
  taskset -c "$GW_CPU" "$GATEWAY" --listen 127.0.0.1:0 --threads "$GW_THREADS" --redis-url "$REDIS_URL" \
    --jwt-secret "$SECRET" $GW_ARGS 2>"$log" &
  GW_PID=$!
  GW_PORT=""
  for _ in $(seq 100); do
    if grep -q redis_connected "$log" 2>/dev/null; then
      GW_PORT=$(grep -m1 ' listening ' "$log" | sed -n 's/.* port=\([0-9]*\).*/\1/p')
      break
    fi
    kill -0 "$GW_PID" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $GW_PORT ]] || { echo "run_local: gateway did not start:" >&2; cat "$log" >&2; exit 1; }
}

for mode in $MODES; do
  start_gateway "$mode"
  args=(--users "$USERS" --conns-per-user "$CONNS" --concurrency "$CONCURRENCY" --host 127.0.0.1
        --port "$GW_PORT" --secret "$SECRET" --source-ips "$SOURCE_IPS" --redis-url "$REDIS_URL"
        --gateway-pid "$GW_PID")
  case $mode in
    connect) args+=(--hold "$HOLD") ;;
    fanout) args+=(--messages "$MESSAGES" --payload-bytes "$PAYLOAD" --rate "$RATE" --pipeline "$PIPELINE") ;;
    latency) args+=(--rate "$LAT_RATE" --duration "$LAT_DURATION" --payload-bytes "$PAYLOAD") ;;
    *) echo "run_local: unknown mode $mode" >&2; exit 2 ;;
  esac
  echo "\$ taskset -c $LOAD_CPU wsgate-load $mode ${args[*]}" | sed "s/$SECRET/\$SECRET/" >&2
  taskset -c "$LOAD_CPU" "$LOADGEN" "$mode" "${args[@]}" >"$WORK/$mode.json" 2>"$WORK/$mode.txt" || true
  cat "$WORK/$mode.txt" >&2
  cat "$WORK/$mode.json"
  stop_pid "$GW_PID"; GW_PID=""
  grep -v ' info ' "$WORK/gateway-$mode.log" | head -20 >&2 || true
done
