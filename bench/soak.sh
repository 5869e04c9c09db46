#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup is called from the EXIT trap
# bench/soak.sh: a long run of the gateway under steady load, churn and slow readers, showing
# whether its memory and descriptors stay flat.
#
# Algorithm: start a private redis-server (free loopback port, --save "" --appendonly no) on
# LOAD_CPU and one gateway (`wsgate --listen 127.0.0.1:0 --threads GW_THREADS`, pinned to
# GW_CPU with taskset), then run `wsgate-load soak` pinned to LOAD_CPU for DURATION seconds
# (after its ramp-up). The generator holds CONNECTIONS connections over USERS users, publishes
# RATE msgs/s, closes and reopens CHURN connections a second, keeps SLOW_READERS stalling
# connections, verifies delivery, and samples the gateway's RSS, descriptors and /metrics and
# Redis's memory every SAMPLE_INTERVAL seconds (see the soak comment in bench/wsload.cpp).
# Afterwards the gateway is stopped with SIGTERM and must exit 0. Everything started here is
# stopped by PID on exit (trap), including on Ctrl-C or failure.
#
# Parameters (environment):
#   BUILD=build-soak       directory holding wsgate and wsgate-load
#   DURATION=600           seconds of soak after the ramp-up
#   CONNECTIONS=10000 USERS=10000   regular connections and users (≤ 19,500 per process)
#   RATE=2000 PAYLOAD=64   msgs/s to random regular users, payload bytes
#   CHURN=50               connections closed and reopened per second (alternately 1000 / RST)
#   SLOW_READERS=2 SLOW_RATE=500 SLOW_PAYLOAD=1024 SLOW_STALL=20 SLOW_READ=2
#   SAMPLE_INTERVAL=10 WARMUP=60   sampling period; seconds left out of the slopes
#   RSS_SLOPE_LIMIT_PCT=1  "flat" RSS: slope below this % of the start RSS per 10 minutes
#   CONCURRENCY=200        handshakes in flight
#   SOURCE_IPS=127.0.0.2-127.0.0.40
#   GW_CPU=0 LOAD_CPU=1    cores for the gateway, and for the load generator and Redis
#   GW_THREADS=1           gateway shards
#   GW_ARGS=""             extra gateway flags
#   GW_ENV=""              extra environment of the gateway only, e.g.
#                          GW_ENV=LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
#   LOAD_ARGS=""           extra wsgate-load soak flags
#   OUT=""                 directory for soak.jsonl (samples + summary), soak.txt (table),
#                          gateway-soak-0.log, redis.log, run.txt (machine, commands); a temporary
#                          one, removed at the end, when unset
#
# Output: progress and the final table on stderr; the samples and the summary as JSON lines
# on stdout. Exit status: that of wsgate-load (0 = the run completed: read the verdict).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-soak}
DURATION=${DURATION:-600}
CONNECTIONS=${CONNECTIONS:-10000}
USERS=${USERS:-10000}
RATE=${RATE:-2000}
PAYLOAD=${PAYLOAD:-64}
CHURN=${CHURN:-50}
SLOW_READERS=${SLOW_READERS:-2}
SLOW_RATE=${SLOW_RATE:-500}
SLOW_PAYLOAD=${SLOW_PAYLOAD:-1024}
SLOW_STALL=${SLOW_STALL:-20}
SLOW_READ=${SLOW_READ:-2}
SAMPLE_INTERVAL=${SAMPLE_INTERVAL:-10}
WARMUP=${WARMUP:-60}
RSS_SLOPE_LIMIT_PCT=${RSS_SLOPE_LIMIT_PCT:-1}
CONCURRENCY=${CONCURRENCY:-200}
SOURCE_IPS=${SOURCE_IPS:-127.0.0.2-127.0.0.40}
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
GW_THREADS=${GW_THREADS:-1}
GW_ARGS=${GW_ARGS:-}
GW_ENV=${GW_ENV:-}
LOAD_ARGS=${LOAD_ARGS:-}
OUT=${OUT:-}
SECRET=${SECRET:-wsgate-bench-secret-0123456789abcdef0123456789}

[[ $BUILD = /* ]] || BUILD=$PWD/$BUILD
GATEWAY=$BUILD/wsgate
LOADGEN=$BUILD/wsgate-load
for bin in "$GATEWAY" "$LOADGEN"; do
  [[ -x $bin ]] || { echo "soak: $bin missing; build with ninja -C $BUILD wsgate wsgate-load" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "soak: redis-server not found" >&2; exit 1; }

WORK=${OUT:-$(mktemp -d /tmp/wsgate-soak.XXXXXX)}
mkdir -p "$WORK"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
LOAD_PID=""
cleanup() {
  lib_cleanup
  [[ -z $OUT ]] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Redis and the gateway (bench/lib.sh) -----------------------------------------------------
start_redis "$LOAD_CPU" || exit 1
# shellcheck disable=SC2086
start_gateways soak 1 "$GW_CPU" "$GW_THREADS" $GW_ARGS || exit 1
GW_LOG=$WORK/gateway-soak-0.log

args=(--connections "$CONNECTIONS" --users "$USERS" --duration "$DURATION" --rate "$RATE"
      --payload-bytes "$PAYLOAD" --churn "$CHURN" --slow-readers "$SLOW_READERS"
      --slow-rate "$SLOW_RATE" --slow-payload-bytes "$SLOW_PAYLOAD" --slow-stall "$SLOW_STALL"
      --slow-read "$SLOW_READ" --sample-interval "$SAMPLE_INTERVAL" --warmup "$WARMUP"
      --rss-slope-limit-pct "$RSS_SLOPE_LIMIT_PCT" --concurrency "$CONCURRENCY"
      --host 127.0.0.1 --port "$GW_PORT" --secret "$SECRET" --source-ips "$SOURCE_IPS"
      --redis-url "$REDIS_URL" --gateway-pid "$GW_PID")
# shellcheck disable=SC2206
args+=($LOAD_ARGS)
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')\" kernel=$(uname -r) loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
  echo "versions: $(redis-server --version | cut -d' ' -f1-3), hiredis $(pkg-config --modversion hiredis 2>/dev/null || echo '?'), boost $(grep -m1 'define BOOST_LIB_VERSION' /usr/include/boost/version.hpp | cut -d'"' -f2)"
  echo "tree: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') + $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) uncommitted paths"
  echo "\$ $REDIS_CMD"
  echo "\$ $GW_CMD  # pid $GW_PID, port $GW_PORT"
  echo "\$ taskset -c $LOAD_CPU $LOADGEN soak ${args[*]}" | sed "s/$SECRET/\$SECRET/"
} | tee "$WORK/run.txt" >&2

# --- the soak ---------------------------------------------------------------------------------
rc=0
taskset -c "$LOAD_CPU" "$LOADGEN" soak "${args[@]}" >"$WORK/soak.jsonl" 2> >(tee "$WORK/soak.txt" >&2) &
LOAD_PID=$!
LIB_PIDS+=("$LOAD_PID")
wait "$LOAD_PID" || rc=$?
lib_forget "$LOAD_PID"
LOAD_PID=""
cat "$WORK/soak.jsonl"

# The gateway must still be alive and stop cleanly.
if kill -0 "$GW_PID" 2>/dev/null; then
  kill -TERM "$GW_PID"
  for _ in $(seq 150); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$GW_PID" 2>/dev/null; then
    echo "gateway: still running 15 s after SIGTERM; killed" | tee -a "$WORK/run.txt" >&2
    kill -KILL "$GW_PID" 2>/dev/null || true
    rc=1
  fi
  gw_rc=0
  wait "$GW_PID" || gw_rc=$?
  lib_forget "$GW_PID"
  GW_PID=""
  echo "gateway: exit status $gw_rc after SIGTERM" | tee -a "$WORK/run.txt" >&2
  [[ $gw_rc -eq 0 ]] || rc=1
else
  echo "gateway: NOT RUNNING at the end of the soak" | tee -a "$WORK/run.txt" >&2
  rc=1
fi
echo "gateway log: $(wc -l <"$GW_LOG") lines; lines above info level:" >&2
grep -v ' info ' "$GW_LOG" | cut -c1-300 | head -20 >&2 || true
exit "$rc"
