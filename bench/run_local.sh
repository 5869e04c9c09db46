#!/usr/bin/env bash
# bench/run_local.sh: the local wsgate benchmark, end to end, on one machine.
#
# Algorithm: start a private redis-server (free loopback port, --save "" --appendonly no) on
# LOAD_CPU; for each mode in MODES start fresh gateways (GW_PROCS × `wsgate --listen
# 127.0.0.1:PORT --threads GW_THREADS` sharing one port through SO_REUSEPORT, pinned to GW_CPU
# with taskset, so every mode gets a clean RSS baseline), run wsgate-load (LOAD_PROCS worker
# processes) against them pinned to LOAD_CPU, then stop the gateways with SIGTERM. Everything
# started here is stopped by PID on exit (trap), including on Ctrl-C or failure; the start-up
# and stop code is bench/lib.sh.
#
# Parameters (environment):
#   BUILD=build-bench      directory holding wsgate and wsgate-load
#   MODES="connect fanout" any of connect, fanout, latency, in order
#   USERS=10000 CONNS=1    users × connections per user (≤ 19,500 per load process)
#   LOAD_PROCS=1           wsgate-load worker processes (--procs)
#   GW_PROCS=1             gateway processes sharing the port (≤ ~19,800 connections each)
#   CONCURRENCY=200        handshakes in flight, spread over SOURCE_IPS: keep them per
#                          address under the gateway's --max-handshakes-per-address (128)
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
#   REDIS_ARGS=""          extra redis-server flags
#   OUT=""                 if set, a directory for the JSON lines, stderr tables and logs
#
# Output: each mode's JSON line on stdout; human tables, gateway logs and progress on stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
MODES=${MODES:-connect fanout}
USERS=${USERS:-10000}
CONNS=${CONNS:-1}
LOAD_PROCS=${LOAD_PROCS:-1}
GW_PROCS=${GW_PROCS:-1}
REDIS_ARGS=${REDIS_ARGS:-}
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
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
cleanup() {
  lib_cleanup
  [[ -z $OUT ]] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2086
start_redis "$LOAD_CPU" $REDIS_ARGS || exit 1

{
  machine_lines
  echo "settings: users=$USERS conns=$CONNS load_procs=$LOAD_PROCS concurrency=$CONCURRENCY hold=$HOLD messages=$MESSAGES payload=$PAYLOAD rate=$RATE pipeline=$PIPELINE gw_cpu=$GW_CPU load_cpu=$LOAD_CPU gw_procs=$GW_PROCS gw_threads=$GW_THREADS redis=$REDIS_URL"
} >&2

for mode in $MODES; do
  # shellcheck disable=SC2086
  start_gateways "$mode" "$GW_PROCS" "$GW_CPU" "$GW_THREADS" $GW_ARGS || exit 1
  args=(--users "$USERS" --conns-per-user "$CONNS" --procs "$LOAD_PROCS" --concurrency "$CONCURRENCY"
        --host 127.0.0.1 --port "$GW_PORT" --secret "$SECRET" --source-ips "$SOURCE_IPS"
        --redis-url "$REDIS_URL" --gateway-pid "$GW_PID_LIST")
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
  stop_gateways
  cat "$WORK"/gateway-"$mode"-*.log | grep -v ' info ' | head -20 >&2 || true
done
