#!/usr/bin/env bash
# bench/bench.sh (`make bench`): wsgate beside its peers, one command, one results file.
#
# Algorithm: configure and build a Release tree in BUILD (tests off; wsgate and wsgate-load),
# run bench/peers/install.sh, start one private redis-server (free loopback port, no
# persistence, --maxclients 20000 because the Python peer holds a Redis connection per client)
# on LOAD_CPU, then for each server in SYSTEMS run each of its modes against a freshly started
# server pinned to GW_CPU with taskset, with wsgate-load pinned to LOAD_CPU:
#   connect   USERS users × 1: connects/s, failures, RSS per idle connection, Redis clients
#             (held HOLD s);
#   fanout    USERS × 1, MESSAGES messages to random users as fast as the pipeline allows:
#             delivered msgs/s, msgs per server CPU-second, lost;
#   fanout10  (wsgate) MULTI_USERS users × MULTI_CONNS connections, MULTI_MESSAGES messages;
#   latency   USERS × 1, LAT_RATE msgs/s for LAT_DURATION s: p50/p90/p99/p99.9/max, lost;
#   c100k     (wsgate) C100K_GW_PROCS gateways × --threads 1 sharing one port (SO_REUSEPORT)
#             on GW_CPU, C100K_LOAD_PROCS load processes on LOAD_CPU, C100K_USERS connections
#             held C100K_HOLD s (summed RSS → bytes per connection), then C100K_MESSAGES
#             messages over them with at most C100K_MAX_BACKLOG deliveries outstanding: six
#             gateways share one core, and a gateway whose Redis backlog lags its PING answer
#             by more than --redis-timeout (5 s) rebuilds the link, losing what Redis held for
#             it (src/redis/subscriber.cpp, watchdog), so an unpaced burst measures that
#             policy rather than 100k connections.
# The Python peer holds two descriptors per client (its WebSocket and its Redis connection)
# under this machine's 20,000-per-process cap, so it runs at PY_USERS (9,900) users. A peer
# whose run.sh is missing is skipped with a line in the results. Every load run is bounded by
# `timeout` and wsgate-load's own --phase-timeout; every process started here is stopped by
# PID (bench/lib.sh), also on failure or Ctrl-C.
#
# Output: RESULTS (bench/results/<UTC date>.md, or <date>-2.md, -3… when that exists) with the
# machine, versions, commands, the side-by-side table with wsgate's targets, a saturation
# table and the raw JSON lines; the raw files stay in WORK (a temporary directory unless set).
#
# Parameters (environment; defaults are the full matrix, ~5 minutes on a quiet 2-core VM):
#   BUILD=build-bench  SKIP_BUILD=0  SKIP_INSTALL=0   SYSTEMS="wsgate node python"
#   USERS=10000 HOLD=5 CONCURRENCY=200 MESSAGES=200000 PAYLOAD=64 PIPELINE=1000
#   MULTI_USERS=1000 MULTI_CONNS=10 MULTI_MESSAGES=20000
#   LAT_RATE=5000 LAT_DURATION=10
#   PY_USERS=9900 PY_MESSAGES=50000   (the Python peer's sizes; it delivers ~10k msgs/s)
#   TRIALS=3 PY_TRIALS=1   trials of each connect, fanout and latency run; the table shows the
#                          median trial (by connects/s, msgs per server CPU-s, p99) and the
#                          spread: on this shared VM identical runs minutes apart differ by up
#                          to 25%. The Python peer is an order of magnitude off either way.
#   C100K=1 C100K_USERS=100000 C100K_GW_PROCS=6 C100K_LOAD_PROCS=6 C100K_HOLD=10
#   C100K_MESSAGES=200000 C100K_MAX_BACKLOG=20000
#   GW_CPU=0 LOAD_CPU=1  SOURCE_IPS=127.0.0.2-127.0.0.40
#                      each load process spreads its CONCURRENCY handshakes over its share
#                      of these: ~6 per address, ~31 in c100k (6 processes): well below
#                      wsgate's --max-handshakes-per-address (128); with fewer addresses
#                      or more concurrency, raise that in GW_ARGS
#   GW_ARGS="--jwt-algorithms HS256"   extra wsgate flags; HS256 only, as the peers accept
#   RUN_TIMEOUT=120 C100K_RUN_TIMEOUT=240   seconds per wsgate-load phase (and + 60 per run)
#   DEADLINE=840       seconds from the start (build included) after which the remaining runs
#                      are skipped, each with a line in the results: `make bench` stays
#                      within 15 minutes
#   RESULTS=""  WORK=""
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
SKIP_BUILD=${SKIP_BUILD:-0}
SKIP_INSTALL=${SKIP_INSTALL:-0}
SYSTEMS=${SYSTEMS:-wsgate node python}
USERS=${USERS:-10000}
HOLD=${HOLD:-5}
CONCURRENCY=${CONCURRENCY:-200}
MESSAGES=${MESSAGES:-200000}
PAYLOAD=${PAYLOAD:-64}
PIPELINE=${PIPELINE:-1000}
MULTI_USERS=${MULTI_USERS:-1000}
MULTI_CONNS=${MULTI_CONNS:-10}
MULTI_MESSAGES=${MULTI_MESSAGES:-20000}
LAT_RATE=${LAT_RATE:-5000}
LAT_DURATION=${LAT_DURATION:-10}
PY_USERS=${PY_USERS:-9900}
PY_MESSAGES=${PY_MESSAGES:-50000}
TRIALS=${TRIALS:-3}
PY_TRIALS=${PY_TRIALS:-1}
C100K=${C100K:-1}
C100K_USERS=${C100K_USERS:-100000}
C100K_GW_PROCS=${C100K_GW_PROCS:-6}
C100K_LOAD_PROCS=${C100K_LOAD_PROCS:-6}
C100K_HOLD=${C100K_HOLD:-10}
C100K_MESSAGES=${C100K_MESSAGES:-200000}
C100K_MAX_BACKLOG=${C100K_MAX_BACKLOG:-20000}
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SOURCE_IPS=${SOURCE_IPS:-127.0.0.2-127.0.0.40}
GW_ARGS=${GW_ARGS:---jwt-algorithms HS256}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
C100K_RUN_TIMEOUT=${C100K_RUN_TIMEOUT:-240}
DEADLINE=${DEADLINE:-840}
SECRET=${SECRET:-wsgate-bench-secret-0123456789abcdef0123456789}
PY=/usr/bin/python3
T0=$(date +%s)

say() { echo "bench: $*" >&2; }

# --- build and install --------------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
  say "building Release in $BUILD"
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  build_log=$(mktemp /tmp/wsgate-bench-build.XXXXXX)
  if ! { cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWSGATE_BUILD_TESTS=OFF \
           -DWSGATE_BUILD_BENCH=ON "${launcher[@]}" &&
         cmake --build "$BUILD" --target wsgate wsgate-load -j "$(nproc)"; } >"$build_log" 2>&1; then
    tail -40 "$build_log" >&2
    say "build failed (full log: $build_log)"
    exit 1
  fi
  rm -f "$build_log"
fi
GATEWAY=$BUILD/wsgate
LOADGEN=$BUILD/wsgate-load
for bin in "$GATEWAY" "$LOADGEN"; do
  [[ -x $bin ]] || { say "$bin missing"; exit 1; }
done
command -v redis-server >/dev/null || { say "redis-server not found"; exit 1; }
if [[ $SKIP_INSTALL != 1 ]]; then
  if [[ -x $ROOT/bench/peers/install.sh ]]; then
    say "bench/peers/install.sh"
    "$ROOT/bench/peers/install.sh"
  else
    say "bench/peers/install.sh missing: the peers will be skipped if they cannot run"
  fi
fi

# --- where things go ----------------------------------------------------------------------------
if [[ -z ${RESULTS:-} ]]; then
  day=$(date -u +%F)
  RESULTS=$ROOT/bench/results/$day.md
  n=2
  while [[ -e $RESULTS ]]; do RESULTS=$ROOT/bench/results/$day-$n.md; n=$((n + 1)); done
fi
KEEP_WORK=${WORK:+1}
WORK=${WORK:-$(mktemp -d /tmp/wsgate-benchmatrix.XXXXXX)}
mkdir -p "$WORK" "$(dirname "$RESULTS")"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
cleanup() {
  lib_cleanup
  [[ -z $KEEP_WORK ]] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOADAVG0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$WORK/commands.txt"
: >"$WORK/runs.txt"  # one line per run: name system mode load-average
: >"$WORK/skipped.txt"
note_cmd() { local line=$*; echo "${line//"$SECRET"/\$SECRET}" >>"$WORK/commands.txt"; }

start_redis "$LOAD_CPU" --maxclients 20000 || exit 1
note_cmd "$REDIS_CMD"

# --- servers ------------------------------------------------------------------------------------
SERVER_PIDS=""  # comma-separated, for --gateway-pid
SERVER_PORT=""
start_server() {  # start_server SYSTEM NAME [GW_PROCS]
  local system=$1 name=$2 procs=${3:-1}
  case $system in
    wsgate)
      # shellcheck disable=SC2086
      start_gateways "$name" "$procs" "$GW_CPU" 1 $GW_ARGS || return 1
      SERVER_PIDS=$GW_PID_LIST
      SERVER_PORT=$GW_PORT
      note_cmd "# $name"
      if ((procs > 1)); then
        note_cmd "$GW_CMD   # × $procs: the first on a free port, the others on 127.0.0.1:$GW_PORT (SO_REUSEPORT)"
      else
        note_cmd "$GW_CMD"
      fi
      ;;
    node | python)
      local port log=$WORK/server-$name.log pid
      port=$(free_port)
      HOST=127.0.0.1 PORT=$port REDIS_URL=$REDIS_URL JWT_SECRET=$SECRET \
        taskset -c "$GW_CPU" "$ROOT/bench/peers/$system/run.sh" 2>"$log" &
      pid=$!
      LIB_PIDS+=("$pid")
      # shellcheck disable=SC2034  # stop_gateways (bench/lib.sh) stops it
      GW_PIDS=("$pid")
      if ! wait_port "$port" 60 "$pid"; then
        say "$system peer did not start:"
        cat "$log" >&2
        return 1
      fi
      SERVER_PIDS=$pid
      SERVER_PORT=$port
      note_cmd "# $name"
      note_cmd "HOST=127.0.0.1 PORT=$port REDIS_URL=$REDIS_URL JWT_SECRET=\$SECRET taskset -c $GW_CPU bench/peers/$system/run.sh"
      ;;
  esac
}

# run NAME SYSTEM MODE GW_PROCS PHASE_TIMEOUT wsgate-load-arguments...
run() {
  local name=$1 system=$2 mode=$3 procs=$4 phase=$5
  shift 5
  local la
  if (($(date +%s) - T0 > DEADLINE)); then
    say "$name skipped: past DEADLINE ($DEADLINE s)"
    echo "$name: skipped, the matrix was past DEADLINE ($DEADLINE s from the start)" >>"$WORK/skipped.txt"
    return 0
  fi
  la=$(cut -d' ' -f1-3 /proc/loadavg)
  say "$name ($system $mode, load average $la)"
  if ! start_server "$system" "$name" "$procs"; then
    echo "$name: $system did not start" >>"$WORK/skipped.txt"
    stop_gateways
    return 0
  fi
  local args=(--host 127.0.0.1 --port "$SERVER_PORT" --secret "$SECRET" --source-ips "$SOURCE_IPS"
              --redis-url "$REDIS_URL" --gateway-pid "$SERVER_PIDS" --concurrency "$CONCURRENCY"
              --phase-timeout "$phase" "$@")
  note_cmd "taskset -c $LOAD_CPU $LOADGEN $mode ${args[*]}   # load average $la"
  local rc=0
  timeout -k 10 "$((phase + 60))" taskset -c "$LOAD_CPU" "$LOADGEN" "$mode" "${args[@]}" \
    >"$WORK/$name.json" 2>"$WORK/$name.txt" || rc=$?
  sed 's/^/  /' "$WORK/$name.txt" >&2
  [[ $rc -eq 0 ]] || { say "$name: wsgate-load exit status $rc"; echo "$name: wsgate-load exit status $rc" >>"$WORK/skipped.txt"; }
  echo "$name $system $mode $la" >>"$WORK/runs.txt"
  stop_gateways
}

have_peer() {  # have_peer SYSTEM: its run.sh exists (else a line in the results)
  [[ $1 == wsgate ]] && return 0
  if [[ -x $ROOT/bench/peers/$1/run.sh ]]; then return 0; fi
  echo "$1: bench/peers/$1/run.sh missing, peer skipped" >>"$WORK/skipped.txt"
  say "bench/peers/$1/run.sh missing: $1 skipped"
  return 1
}

# One unrecorded connect storm first: a fresh Redis (its channel table growing to USERS
# entries) and a machine that was idle pay one-time costs that would otherwise fall on
# whichever server is measured first; in trials the first connect run came out 30-40% slower
# than the identical connect phases of the runs after it.
warm_up() {
  say "warm-up (wsgate connect, not recorded)"
  start_server wsgate warmup 1 >/dev/null || { stop_gateways; return 0; }
  timeout -k 10 "$((RUN_TIMEOUT + 60))" taskset -c "$LOAD_CPU" "$LOADGEN" connect \
    --host 127.0.0.1 --port "$SERVER_PORT" --secret "$SECRET" --source-ips "$SOURCE_IPS" \
    --redis-url "$REDIS_URL" --gateway-pid "$SERVER_PIDS" --concurrency "$CONCURRENCY" \
    --phase-timeout "$RUN_TIMEOUT" --users "$USERS" --hold 1 >"$WORK/warmup.json" \
    2>"$WORK/warmup.txt" || true
  stop_gateways
}
warm_up

pub=(--payload-bytes "$PAYLOAD" --pipeline "$PIPELINE")
for system in $SYSTEMS; do
  have_peer "$system" || continue
  users=$USERS messages=$MESSAGES slow=()
  if [[ $system == python ]]; then
    ((PY_USERS < USERS)) && users=$PY_USERS
    messages=$PY_MESSAGES
    # A full garbage collection stalls its event loop for over a second at this size, so
    # handshakes need more than the default 10 s to count as failures rather than slow.
    slow=(--connect-timeout 30)
  fi
  trials=$TRIALS
  [[ $system == python ]] && trials=$PY_TRIALS
  for ((t = 1; t <= trials; ++t)); do
    run "$system-connect.$t" "$system" connect 1 "$RUN_TIMEOUT" --users "$users" --hold "$HOLD" \
      "${slow[@]}"
    run "$system-fanout.$t" "$system" fanout 1 "$RUN_TIMEOUT" --users "$users" \
      --messages "$messages" "${slow[@]}" "${pub[@]}"
    if [[ $system == wsgate ]]; then
      run "wsgate-fanout10.$t" wsgate fanout 1 "$RUN_TIMEOUT" --users "$MULTI_USERS" \
        --conns-per-user "$MULTI_CONNS" --messages "$MULTI_MESSAGES" "${pub[@]}"
    fi
    run "$system-latency.$t" "$system" latency 1 "$RUN_TIMEOUT" --users "$users" \
      --rate "$LAT_RATE" --duration "$LAT_DURATION" "${slow[@]}" "${pub[@]}"
  done
  if [[ $system == wsgate && $C100K == 1 ]]; then
    run wsgate-c100k wsgate fanout "$C100K_GW_PROCS" "$C100K_RUN_TIMEOUT" --users "$C100K_USERS" \
      --procs "$C100K_LOAD_PROCS" --hold "$C100K_HOLD" --messages "$C100K_MESSAGES" \
      --max-backlog "$C100K_MAX_BACKLOG" "${pub[@]}"
  fi
done
ELAPSED=$(($(date +%s) - T0))

# --- the results file ---------------------------------------------------------------------------
ver_node_pkg() {  # version of an npm package of the node peer
  local f=$ROOT/bench/peers/node/node_modules/$1/package.json
  [[ -f $f ]] && node -p "require('$f').version" 2>/dev/null || echo '?'
}
{
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "elapsed_s=$ELAPSED"
  echo "loadavg_start=$LOADAVG0"
  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "nproc=$(nproc)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME") $(cat /etc/debian_version 2>/dev/null)"
  echo "wsgate=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') + $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) uncommitted paths"
  echo "gxx=$(g++ --version | head -1)"
  echo "boost=$(grep -m1 'define BOOST_LIB_VERSION' /usr/include/boost/version.hpp | cut -d'"' -f2 | tr _ .)"
  echo "hiredis=$(pkg-config --modversion hiredis 2>/dev/null || echo '?')"
  echo "redis=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"
  echo "node=$(node --version 2>/dev/null || echo '?')"
  echo "ws=$(ver_node_pkg ws)"
  echo "ioredis=$(ver_node_pkg ioredis)"
  echo "jsonwebtoken=$(ver_node_pkg jsonwebtoken)"
  echo "python=$($PY --version 2>&1 | cut -d' ' -f2)"
  echo "fastapi=$($PY -c 'import fastapi; print(fastapi.__version__)' 2>/dev/null || echo '?')"
  echo "uvicorn=$($PY -c 'import uvicorn; print(uvicorn.__version__)' 2>/dev/null || echo '?')"
  echo "redis_py=$($PY -c 'import redis; print(redis.__version__)' 2>/dev/null || echo '?')"
  echo "pyjwt=$($PY -c 'import jwt; print(jwt.__version__)' 2>/dev/null || echo '?')"
  echo "somaxconn=$(cat /proc/sys/net/core/somaxconn)"
  echo "nofile=$(ulimit -Hn)"
} >"$WORK/machine.txt"

export BENCH_USERS=$USERS BENCH_PY_USERS=$PY_USERS BENCH_HOLD=$HOLD BENCH_MESSAGES=$MESSAGES \
  BENCH_PY_MESSAGES=$PY_MESSAGES BENCH_PAYLOAD=$PAYLOAD BENCH_MULTI="${MULTI_USERS}x$MULTI_CONNS" \
  BENCH_MULTI_MESSAGES=$MULTI_MESSAGES BENCH_LAT_RATE=$LAT_RATE BENCH_LAT_DURATION=$LAT_DURATION \
  BENCH_C100K_USERS=$C100K_USERS BENCH_C100K_GW=$C100K_GW_PROCS \
  BENCH_C100K_LOAD=$C100K_LOAD_PROCS BENCH_GW_CPU=$GW_CPU BENCH_LOAD_CPU=$LOAD_CPU
$PY - "$WORK" >"$RESULTS" <<'PYEOF'
# Renders WORK (machine.txt, runs.txt, commands.txt, skipped.txt, NAME.json, NAME.txt) as the
# results file: the side-by-side table with wsgate's targets, saturation, raw output.
import json, os, sys

work = sys.argv[1]
env = os.environ
machine = dict(l.rstrip("\n").split("=", 1) for l in open(f"{work}/machine.txt") if "=" in l)
runs, results = [], {}
for line in open(f"{work}/runs.txt"):
    name, system, mode, *la = line.split()
    runs.append((name, system, mode, " ".join(la)))
    try:
        results[name] = json.loads(open(f"{work}/{name}.json").read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        results[name] = None
skipped = [l.strip() for l in open(f"{work}/skipped.txt") if l.strip()]

# Trials: NAME.1, NAME.2, ... Each table figure comes from the median trial by the run's key
# figure; the spread of that figure over the trials gets its own row.
def key_of(base, r):
    if r is None:
        return None
    if base.endswith("-connect"):
        return (r.get("connect") or {}).get("connects_per_s")
    if base.endswith("-latency"):
        return ((r.get("publish") or {}).get("latency") or {}).get("p99_us")
    return (r.get("publish") or {}).get("delivered_per_gateway_cpu_s")

trials = {}
for name, *_ in runs:
    base, dot, t = name.rpartition(".")
    if dot and t.isdigit():
        trials.setdefault(base, []).append(results[name])
spread = {}
for base, rs in trials.items():
    ok = sorted((k, i) for i, r in enumerate(rs) if (k := key_of(base, r)) is not None)
    if not ok:
        results[base] = None
        continue
    results[base] = rs[ok[(len(ok) - 1) // 2][1]]
    spread[base] = (ok[0][0], ok[-1][0], len(ok))

def get(name, *path):
    v = results.get(name)
    for k in path:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v

def num(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"

def ms(v):
    return "—" if v is None else (f"{v / 1000:.2f}" if v < 100_000 else f"{v / 1000:,.0f}")

systems = [("wsgate", "wsgate"), ("node", "Node ws"), ("python", "Python FastAPI")]
rows = []  # (figure, {system: text}, target, met)

def row(figure, fn, target="", check=None, only=None):
    cells = {}
    for s, _ in systems:
        cells[s] = fn(s) if (only is None or s in only) else "—"
    met = ""
    if check is not None:
        ok = check()
        met = "—" if ok is None else ("met" if ok else "**missed**")
    rows.append((figure, cells, target, met))

def size(s, run):
    u = get(f"{s}-{run}", "params", "users")
    c = get(f"{s}-{run}", "params", "conns_per_user")
    if u is None:
        return "—"
    txt = f"{u:,} × {c}"
    if s == "python" and u < int(env["BENCH_USERS"]):
        txt += " (largest that fits: 2 fds per client under the 20,000-fd cap)"
    return txt

def lost_of(name):
    """Lost messages; for a run with trials, summed over all of them."""
    if name in trials:
        vals = [(r or {}).get("publish", {}).get("lost") for r in trials[name]]
        return None if any(v is None for v in vals) else sum(vals)
    return get(name, "publish", "lost")

def all_zero(*names):
    vals = [lost_of(n) for n in names]
    if any(v is None for v in vals):
        return None
    return all(v == 0 for v in vals)

def ge(v, t):
    return None if v is None else v >= t

def le(v, t):
    return None if v is None else v <= t

def spread_txt(base, fmt=lambda v: num(v)):
    if base not in spread:
        return "—"
    lo, hi, n = spread[base]
    return f"{fmt(lo)} – {fmt(hi)} ({n})" if n > 1 else f"{fmt(lo)} (1)"

row("connections (connect, fanout, latency runs)", lambda s: size(s, "connect"))
row("new connections/s (connect run)", lambda s: num(get(f"{s}-connect", "connect", "connects_per_s")),
    "≥ 15,000", lambda: ge(get("wsgate-connect", "connect", "connects_per_s"), 15000))
row("new connections/s: all trials, min – max (trials)", lambda s: spread_txt(f"{s}-connect"))
row("connect failures", lambda s: num(get(f"{s}-connect", "connect", "failed")))
row("server RSS per idle connection (B)",
    lambda s: num(get(f"{s}-connect", "connect", "gateway_bytes_per_conn")),
    "≤ 4,096", lambda: le(get("wsgate-connect", "connect", "gateway_bytes_per_conn"), 4096))
row("Redis connections held by the server",
    lambda s: num(get(f"{s}-connect", "connect", "redis_clients_server")),
    "O(processes × threads)", lambda: le(get("wsgate-connect", "connect", "redis_clients_server"), 1))
row("fanout messages (× 1 connection each)",
    lambda s: num(get(f"{s}-fanout", "params", "messages")))
row("fanout: delivered msgs/s", lambda s: num(get(f"{s}-fanout", "publish", "delivered_per_s")))
row("fanout: delivered msgs per server CPU-second",
    lambda s: num(get(f"{s}-fanout", "publish", "delivered_per_gateway_cpu_s")),
    "≥ 100,000", lambda: ge(get("wsgate-fanout", "publish", "delivered_per_gateway_cpu_s"), 100000))
row("fanout: msgs per server CPU-s, all trials, min – max (trials)",
    lambda s: spread_txt(f"{s}-fanout"))
row("fanout: lost", lambda s: num(lost_of(f"{s}-fanout")), "0", lambda: all_zero("wsgate-fanout"))
multi = env["BENCH_MULTI"].replace("x", " users × ") + " conns"
row(f"fanout {multi}: delivered msgs/s",
    lambda s: num(get(f"{s}-fanout10", "publish", "delivered_per_s")), only=["wsgate"])
row(f"fanout {multi}: delivered msgs per server CPU-s",
    lambda s: num(get(f"{s}-fanout10", "publish", "delivered_per_gateway_cpu_s")),
    "more than at × 1",
    lambda: None if get("wsgate-fanout10", "publish", "delivered_per_gateway_cpu_s") is None
    or get("wsgate-fanout", "publish", "delivered_per_gateway_cpu_s") is None
    else get("wsgate-fanout10", "publish", "delivered_per_gateway_cpu_s")
    > get("wsgate-fanout", "publish", "delivered_per_gateway_cpu_s"), only=["wsgate"])
row(f"fanout {multi}: lost", lambda s: num(lost_of(f"{s}-fanout10")), "0",
    lambda: all_zero("wsgate-fanout10"), only=["wsgate"])
lat = f"latency at {int(float(env['BENCH_LAT_RATE'])):,} msgs/s"
for key, label in [("p50_us", "p50"), ("p90_us", "p90"), ("p99_us", "p99"), ("p999_us", "p99.9"),
                   ("max_us", "max")]:
    target, check = "", None
    if key == "p99_us":
        target = "≤ 1 ms"
        check = lambda: le(get("wsgate-latency", "publish", "latency", "p99_us"), 1000)
    row(f"{lat}: {label} (ms)", lambda s, k=key: ms(get(f"{s}-latency", "publish", "latency", k)),
        target, check)
row(f"{lat}: p99, all trials, min – max (trials) (ms)",
    lambda s: spread_txt(f"{s}-latency", ms))
row(f"{lat}: lost", lambda s: num(lost_of(f"{s}-latency")), "0", lambda: all_zero("wsgate-latency"))
n100 = int(env["BENCH_C100K_USERS"])
c = "wsgate-c100k"
row(f"c100k: connections open ({env['BENCH_C100K_GW']} gateways, {env['BENCH_C100K_LOAD']} load processes)",
    lambda s: num(get(c, "connect", "open_after_connect")), f"{n100:,}",
    lambda: ge(get(c, "connect", "open_after_connect"), n100), only=["wsgate"])
row("c100k: connect failures", lambda s: num(get(c, "connect", "failed")), only=["wsgate"])
row("c100k: new connections/s", lambda s: num(get(c, "connect", "connects_per_s")), only=["wsgate"])
row("c100k: RSS per idle connection, summed over the gateways (B)",
    lambda s: num(get(c, "connect", "gateway_bytes_per_conn")), "≤ 4,096",
    lambda: le(get(c, "connect", "gateway_bytes_per_conn"), 4096), only=["wsgate"])
row("c100k: descriptors per gateway process",
    lambda s: " / ".join(num(v) for v in (get(c, "connect", "gateway_open_fds_after") or [])) or "—",
    only=["wsgate"])
row("c100k: Redis connections held by the gateways",
    lambda s: num(get(c, "connect", "redis_clients_server")), "O(processes × threads)",
    lambda: le(get(c, "connect", "redis_clients_server"), int(env["BENCH_C100K_GW"])), only=["wsgate"])
row("c100k: fanout delivered msgs/s", lambda s: num(get(c, "publish", "delivered_per_s")), only=["wsgate"])
row("c100k: fanout delivered msgs per gateway CPU-s",
    lambda s: num(get(c, "publish", "delivered_per_gateway_cpu_s")), only=["wsgate"])
row("c100k: fanout lost", lambda s: num(lost_of(c)), "0", lambda: all_zero(c), only=["wsgate"])

out = []
p = out.append
p(f"# wsgate benchmark, {machine['date'][:10]}: wsgate beside its peers\n")
p("Written by `make bench` (`bench/bench.sh`, load generator `bench/wsload.cpp`). "
  "Each server runs alone on core " + env["BENCH_GW_CPU"] + " (`taskset`); wsgate-load and Redis "
  "share core " + env["BENCH_LOAD_CPU"] + ". A fresh server per run; 64-byte payloads unless the "
  "commands say otherwise. Definitions as in `bench/results/2026-11-25.md`: delivered msgs/s = "
  "messages read by all clients ÷ (first PUBLISH → last delivery); msgs per server CPU-s = the "
  "same count ÷ the server's Δ(utime+stime) over that window; RSS per connection = (VmRSS after "
  "the hold − VmRSS before the first connect) ÷ open connections, summed over the server's "
  "processes; latency = PUBLISH formatted → frame read, one CLOCK_MONOTONIC.\n")
p("## Machine and versions\n")
p(f"- {machine['nproc']} CPUs, `{machine['cpu']}`, kernel {machine['kernel']}, {machine['os']}; "
  f"`net.core.somaxconn` = {machine['somaxconn']}; open files per process ≤ {machine['nofile']}.")
p(f"- **Load average at start: {machine['loadavg_start']}**, at the end: {machine['loadavg_end']} "
  f"(figures taken on a busy machine are not comparable; see the per-run column below). "
  f"The matrix took {machine['elapsed_s']} s.")
p(f"- wsgate {machine['wsgate']}; {machine['gxx']}; Boost {machine['boost']}; hiredis "
  f"{machine['hiredis']}; Redis {machine['redis']}.")
p(f"- Node {machine['node']}, ws {machine['ws']}, ioredis {machine['ioredis']}, jsonwebtoken "
  f"{machine['jsonwebtoken']}; Python {machine['python']}, FastAPI {machine['fastapi']}, uvicorn "
  f"{machine['uvicorn']}, redis-py {machine['redis_py']}, PyJWT {machine['pyjwt']}.\n")
if skipped:
    p("**Skipped or failed:**\n")
    for l in skipped:
        p(f"- {l}")
    p("")
p("## Results\n")
p("| figure | " + " | ".join(label for _, label in systems) + " | wsgate target | wsgate |")
p("|---|" + "---|" * (len(systems) + 2))
for figure, cells, target, met in rows:
    p(f"| {figure} | " + " | ".join(cells[s] for s, _ in systems) + f" | {target} | {met} |")
p("")
p("Sizes: connect, fanout and latency at " + f"{int(env['BENCH_USERS']):,}" + " users × 1 "
  "connection (the Python peer at " + f"{min(int(env['BENCH_PY_USERS']), int(env['BENCH_USERS'])):,}"
  + ": it holds a Redis connection per client, two descriptors per client under the 20,000 cap; "
  "Redis runs with `--maxclients 20000`); fanout " + f"{int(env['BENCH_MESSAGES']):,}" +
  " messages (Python " + f"{int(env['BENCH_PY_MESSAGES']):,}" + "); connect holds " +
  env["BENCH_HOLD"] + " s; latency " + env["BENCH_LAT_DURATION"] + " s.\n")
p("## Saturation\n")
p("Who was busy in each publish window (CPU-s ÷ window; run-queue wait = time runnable but "
  "waiting for the core) and the load average when the run started.\n")
p("| run | load average at start | server CPU busy | load generator busy | server run-queue wait (s) | load generator run-queue wait (s) | cores busy |")
p("|---|---|---|---|---|---|---|")
for name, system, mode, la in runs:
    pub = get(name, "publish") or {}
    pct = lambda v: "—" if v is None else f"{100 * v:.0f}%"
    cores = " / ".join(pct(v) for v in pub.get("core_busy", [])) or "—"
    p(f"| {name} | {la} | {pct(pub.get('gateway_cpu_util'))} | {pct(pub.get('loadgen_cpu_util'))} | "
      f"{num(pub.get('gateway_runqueue_wait_s'), 2)} | {num(pub.get('loadgen_runqueue_wait_s'), 2)} | {cores} |")
p("")
p("## Commands\n")
p("```sh")
p("make bench   # = bench/bench.sh; sizes overridable by environment (see its header)")
for l in open(f"{work}/commands.txt"):
    p(l.rstrip("\n"))
p("```\n")
p("## Raw output\n")
for name, system, mode, la in runs:
    p(f"### {name}\n")
    p("```")
    try:
        p(open(f"{work}/{name}.txt").read().rstrip("\n"))
    except OSError:
        pass
    p("```")
    p("```json")
    try:
        p(open(f"{work}/{name}.json").read().rstrip("\n"))
    except OSError:
        pass
    p("```\n")
print("\n".join(out))
PYEOF
say "wrote ${RESULTS#"$ROOT"/} in ${ELAPSED} s"
sed -n '/^## Results/,/^## Saturation/p' "$RESULTS" | sed '$d' >&2
