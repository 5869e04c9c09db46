#!/usr/bin/env bash
# bench/cluster.sh (`make bench-cluster`): wsgate on a 3-master Redis Cluster against one Redis,
# same machine, same run, one results file (issue 5's closing figure).
#
# Algorithm: build (unless SKIP_BUILD=1) wsgate and wsgate-load in BUILD; start one private
# redis-server and a Redis Cluster of MASTERS masters (no replicas, explicit --cluster-port per
# node, `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`), every Redis
# pinned to LOAD_CPU with taskset like the single Redis of bench.sh, all on free loopback
# ports with no persistence. Then, for each run below, once against the single Redis and once
# against the cluster, back to back so that a change in the machine's load hits both: start a
# fresh gateway pinned to GW_CPU (`--redis-mode cluster --redis-url <seeds>` for the cluster;
# ready once every shard has its link to every master), run wsgate-load pinned to LOAD_CPU
# (`--redis-mode cluster` publishes SPUBLISH on one pipelined connection per master, each
# message to its slot's master, and sums INFO over the masters), stop the gateway:
#   fanout     USERS users × 1 connection, MESSAGES messages to random users, as fast as the
#              pipeline allows: delivered msgs/s, msgs per gateway CPU-s, Redis CPU, lost;
#   fanout10   MULTI_USERS × MULTI_CONNS connections, MULTI_MESSAGES messages;
#   latency    USERS × 1, LAT_RATE msgs/s for LAT_DURATION s: p50/p90/p99/p99.9/max, lost;
#   fanout-t2  (THREADS2=1, first repetition only) as fanout with `--threads 2` (two shards
#              on the one core): the Redis connections grow to masters × shards, and each
#              message still reaches exactly the one shard holding the user.
# Each pair runs REPEAT times, alternating which deployment goes first: on a shared machine
# one pair is noise, the median of three a figure.
# Every wsgate-load run is bounded by `timeout` and its own --phase-timeout; the whole run by
# DEADLINE (later runs are skipped, each with a line in the results). Every process started
# here is stopped by PID (bench/lib.sh), also on failure or Ctrl-C.
#
# Output: RESULTS (bench/results/<UTC date>-cluster.md, or -cluster-2.md … when that exists)
# with the machine, load average per run, commands, the side-by-side table and the raw JSON
# lines; the same table on stderr. Raw files stay in WORK (a temporary directory unless set).
#
# Parameters (environment; defaults: the full run, about 4 minutes on a 2-core VM):
#   BUILD=build-bench SKIP_BUILD=0   MASTERS=3
#   USERS=10000 MESSAGES=200000 PAYLOAD=64 PIPELINE=1000 CONCURRENCY=200
#   MULTI_USERS=1000 MULTI_CONNS=10 MULTI_MESSAGES=20000
#   LAT_RATE=5000 LAT_DURATION=10   THREADS2=1 (once, in the first repetition)
#   REPEAT=3           repetitions of each pair; the table shows medians (lost: summed), and
#                      each repetition's delivered msgs/s
#   GW_CPU=0 LOAD_CPU=1 SOURCE_IPS=127.0.0.2-127.0.0.40 GW_ARGS="--jwt-algorithms HS256"
#   RUN_TIMEOUT=60 (seconds per wsgate-load phase; + 30 per run)
#   DEADLINE=270       seconds after the build past which the remaining runs are skipped
#                      (the medians then use the repetitions that ran)
#   RESULTS=""  WORK=""
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
SKIP_BUILD=${SKIP_BUILD:-0}
MASTERS=${MASTERS:-3}
USERS=${USERS:-10000}
MESSAGES=${MESSAGES:-200000}
PAYLOAD=${PAYLOAD:-64}
PIPELINE=${PIPELINE:-1000}
CONCURRENCY=${CONCURRENCY:-200}
MULTI_USERS=${MULTI_USERS:-1000}
MULTI_CONNS=${MULTI_CONNS:-10}
MULTI_MESSAGES=${MULTI_MESSAGES:-20000}
LAT_RATE=${LAT_RATE:-5000}
LAT_DURATION=${LAT_DURATION:-10}
THREADS2=${THREADS2:-1}
REPEAT=${REPEAT:-3}
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SOURCE_IPS=${SOURCE_IPS:-127.0.0.2-127.0.0.40}
GW_ARGS=${GW_ARGS:---jwt-algorithms HS256}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
DEADLINE=${DEADLINE:-270}
SECRET=${SECRET:-wsgate-bench-secret-0123456789abcdef0123456789}
PY=/usr/bin/python3

say() { echo "bench-cluster: $*" >&2; }

# --- build --------------------------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
  say "building Release in $BUILD"
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  build_log=$(mktemp /tmp/wsgate-bench-cluster-build.XXXXXX)
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
for cmd in redis-server redis-cli taskset; do
  command -v "$cmd" >/dev/null || { say "$cmd not found"; exit 1; }
done
T0=$(date +%s)  # DEADLINE counts from here: the build is bounded by itself

# --- where things go ----------------------------------------------------------------------------
if [[ -z ${RESULTS:-} ]]; then
  day=$(date -u +%F)
  RESULTS=$ROOT/bench/results/$day-cluster.md
  n=2
  while [[ -e $RESULTS ]]; do RESULTS=$ROOT/bench/results/$day-cluster-$n.md; n=$((n + 1)); done
fi
KEEP_WORK=${WORK:+1}
WORK=${WORK:-$(mktemp -d /tmp/wsgate-benchcluster.XXXXXX)}
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
: >"$WORK/runs.txt"  # one line per run: name setup mode load-average
: >"$WORK/skipped.txt"
note_cmd() { local line=$*; echo "${line//"$SECRET"/\$SECRET}" >>"$WORK/commands.txt"; }

# --- the two Redis deployments ------------------------------------------------------------------
start_redis "$LOAD_CPU" || exit 1
SINGLE_URL=$REDIS_URL
note_cmd "$REDIS_CMD"
start_redis_cluster "$LOAD_CPU" "$MASTERS" || exit 1
note_cmd "$CLUSTER_CMD   # × $MASTERS, each with its own --port, --cluster-port and nodes file"
note_cmd "redis-cli --cluster create 127.0.0.1:${CLUSTER_PORTS[0]} … --cluster-replicas 0 --cluster-yes"
say "one Redis at $SINGLE_URL; cluster of $MASTERS masters at $CLUSTER_URL"

# --- one run ------------------------------------------------------------------------------------
# run NAME SETUP(single|cluster) MODE THREADS wsgate-load-arguments...
run() {
  local name=$1 setup=$2 mode=$3 threads=$4
  shift 4
  local la links want i gw_flags=() load_flags=()
  if (($(date +%s) - T0 > DEADLINE)); then
    say "$name skipped: past DEADLINE ($DEADLINE s)"
    echo "$name: skipped, the run was past DEADLINE ($DEADLINE s after the build)" >>"$WORK/skipped.txt"
    return 0
  fi
  la=$(cut -d' ' -f1-3 /proc/loadavg)
  say "$name (load average $la)"
  if [[ $setup == cluster ]]; then
    REDIS_URL=$CLUSTER_URL
    gw_flags=(--redis-mode cluster)
    load_flags=(--redis-mode cluster)
    want=$((MASTERS * threads))
  else
    REDIS_URL=$SINGLE_URL
    want=$threads
  fi
  # shellcheck disable=SC2086
  if ! start_gateways "$name" 1 "$GW_CPU" "$threads" "${gw_flags[@]}" $GW_ARGS; then
    echo "$name: the gateway did not start" >>"$WORK/skipped.txt"
    stop_gateways
    return 0
  fi
  # Ready when every shard has its link to every master (one line per link), so that the
  # connect phase does not wait for links still being set up.
  for ((i = 0; i < 100; i++)); do
    links=$(grep -c redis_connected "$WORK/gateway-$name-0.log" || true)
    ((links >= want)) && break
    sleep 0.1
  done
  ((links >= want)) || say "$name: only $links of $want Redis links up after 10 s; running anyway"
  note_cmd "# $name"
  note_cmd "$GW_CMD"
  local args=(--host 127.0.0.1 --port "$GW_PORT" --secret "$SECRET" --source-ips "$SOURCE_IPS"
              --redis-url "$REDIS_URL" "${load_flags[@]}" --gateway-pid "$GW_PID_LIST"
              --concurrency "$CONCURRENCY" --phase-timeout "$RUN_TIMEOUT" "$@")
  note_cmd "taskset -c $LOAD_CPU $LOADGEN $mode ${args[*]}   # load average $la"
  local rc=0
  timeout -k 10 "$((RUN_TIMEOUT + 30))" taskset -c "$LOAD_CPU" "$LOADGEN" "$mode" "${args[@]}" \
    >"$WORK/$name.json" 2>"$WORK/$name.txt" || rc=$?
  sed 's/^/  /' "$WORK/$name.txt" >&2
  if [[ $rc -ne 0 ]]; then
    say "$name: wsgate-load exit status $rc"
    echo "$name: wsgate-load exit status $rc" >>"$WORK/skipped.txt"
  fi
  echo "$name $setup $mode $la" >>"$WORK/runs.txt"
  stop_gateways
  grep -E ' (warn|error) ' "$WORK/gateway-$name-0.log" | head -5 | sed 's/^/  gateway: /' >&2 || true
}

fanout_args=(--users "$USERS" --messages "$MESSAGES" --payload-bytes "$PAYLOAD" --pipeline "$PIPELINE")
multi_args=(--users "$MULTI_USERS" --conns-per-user "$MULTI_CONNS" --messages "$MULTI_MESSAGES"
            --payload-bytes "$PAYLOAD" --pipeline "$PIPELINE")
lat_args=(--users "$USERS" --rate "$LAT_RATE" --duration "$LAT_DURATION" --payload-bytes "$PAYLOAD")
for ((rep = 1; rep <= REPEAT; rep++)); do
  # Alternate which deployment goes first, so that a trend in the machine's load (or a
  # warm-up) does not always favour the same one.
  order="single cluster"
  ((rep % 2 == 0)) && order="cluster single"
  for setup in $order; do run "$setup-fanout-$rep" "$setup" fanout 1 "${fanout_args[@]}"; done
  for setup in $order; do run "$setup-fanout10-$rep" "$setup" fanout 1 "${multi_args[@]}"; done
  for setup in $order; do run "$setup-latency-$rep" "$setup" latency 1 "${lat_args[@]}"; done
  if [[ $THREADS2 == 1 && $rep == 1 ]]; then
    for setup in $order; do run "$setup-fanout-t2-1" "$setup" fanout 2 "${fanout_args[@]}"; done
  fi
done

# --- the results file ---------------------------------------------------------------------------
ELAPSED=$(($(date +%s) - T0))
LOADAVG1=$(cut -d' ' -f1-3 /proc/loadavg)
machine=$(machine_lines)
WORK=$WORK RESULTS=$RESULTS ELAPSED=$ELAPSED LOADAVG0=$LOADAVG0 LOADAVG1=$LOADAVG1 MACHINE=$machine \
  MASTERS=$MASTERS REPEAT=$REPEAT GW_CPU=$GW_CPU LOAD_CPU=$LOAD_CPU LAT_RATE=$LAT_RATE \
  MULTI="${MULTI_USERS}x$MULTI_CONNS" USERS=$USERS "$PY" - <<'PYEOF'
import json, os, statistics

env = os.environ
work = env["WORK"]
masters = int(env["MASTERS"])
reps = int(env["REPEAT"])

def load(name):
    try:
        for line in open(f"{work}/{name}.json"):
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)
    except OSError:
        pass
    return None

def get(name, *path):
    v = load(name)
    for p in path:
        if not isinstance(v, dict) or p not in v:
            return None
        v = v[p]
    return v

def num(v, digits=0):
    return "—" if v is None else f"{v:,.{digits}f}"

def ms(v):
    return "—" if v is None else f"{v / 1000:.2f}"

def ratio(a, b):
    return "—" if a is None or b is None or not b else f"{a / b:.2f}×"

runs = [l.split(" ", 3) for l in open(f"{work}/runs.txt").read().splitlines() if l]
skipped = [l for l in open(f"{work}/skipped.txt").read().splitlines() if l]
rows = []  # (figure, single, cluster, ratio)

def vals(setup, run, *path):  # the figure in every repetition that produced it
    out = []
    for r in range(1, reps + 1):
        v = get(f"{setup}-{run}-{r}", *path)
        if v is not None:
            out.append(v)
    return out

def agg(xs, how):
    if not xs:
        return None
    return {"median": statistics.median, "sum": sum, "max": max}[how](xs)

def row(figure, run, *path, fmt=num, show_ratio=True, how="median"):
    a, b = (agg(vals(s, run, *path), how) for s in ("single", "cluster"))
    rows.append((figure, fmt(a), fmt(b), ratio(b, a) if show_ratio else ""))

def each(figure, run, *path, fmt=num):  # every repetition, in order
    a, b = (" / ".join(fmt(v) for v in vals(s, run, *path)) or "—" for s in ("single", "cluster"))
    rows.append((figure, a, b, ""))

def first(run, *path):
    for s in ("single", "cluster"):
        v = vals(s, run, *path)
        if v:
            return v[0]
    return None

def sized(run):
    u, c = first(run, "params", "users"), first(run, "params", "conns_per_user")
    m = first(run, "params", "messages")
    return "—" if u is None else f"{u:,} users × {c}, {m:,} msgs"

def count(run):
    return max(len(vals("single", run, "publish")), len(vals("cluster", run, "publish")))

for run, label in [("fanout", "fanout"), ("fanout10", f"fanout {env['MULTI'].replace('x', ' × ')}")]:
    rows.append((f"**{label}** ({sized(run)}; median of {count(run)})", "", "", ""))
    row("delivered msgs/s", run, "publish", "delivered_per_s")
    each("delivered msgs/s, each repetition", run, "publish", "delivered_per_s")
    row("delivered msgs per gateway CPU-second", run, "publish", "delivered_per_gateway_cpu_s")
    row("gateway CPU busy", run, "publish", "gateway_cpu_util",
        fmt=lambda v: "—" if v is None else f"{100 * v:.0f}%", show_ratio=False)
    row("Redis CPU-s (summed over the masters)", run, "publish", "redis_cpu_s", fmt=lambda v: num(v, 3))
    row("load generator CPU busy", run, "publish", "loadgen_cpu_util",
        fmt=lambda v: "—" if v is None else f"{100 * v:.0f}%", show_ratio=False)
    row("lost (all repetitions)", run, "publish", "lost", show_ratio=False, how="sum")
    row("publish errors (all repetitions)", run, "publish", "publish_errors", show_ratio=False,
        how="sum")
    row("Redis output buffer peak toward the gateway (KiB, summed; max)", run, "publish",
        "redis_max_output_buffer_bytes", fmt=lambda v: "—" if v is None else f"{v / 1024:,.0f}",
        show_ratio=False, how="max")
lat = f"latency at {int(float(env['LAT_RATE'])):,} msgs/s"
rows.append((f"**{lat}** ({num(first('latency', 'params', 'users'))} users × 1; median of "
             f"{count('latency')})", "", "", ""))
for key, label in [("p50_us", "p50"), ("p90_us", "p90"), ("p99_us", "p99"),
                   ("p999_us", "p99.9"), ("max_us", "max")]:
    row(f"{label} (ms)", "latency", "publish", "latency", key, fmt=ms)
each("p99 (ms), each repetition", "latency", "publish", "latency", "p99_us", fmt=ms)
row("lost (all repetitions)", "latency", "publish", "lost", show_ratio=False, how="sum")
rows.append(("**Redis connections used by the gateway** (Redis `connected_clients` − ours)", "", "", ""))
row("`--threads 1`", "fanout", "connect", "redis_clients_server", show_ratio=False, how="max")
if count("fanout-t2"):
    row("`--threads 2`", "fanout-t2", "connect", "redis_clients_server", show_ratio=False, how="max")
    rows.append((f"**fanout, `--threads 2`** (two shards on core {env['GW_CPU']}; {sized('fanout-t2')}; "
                 "one repetition)", "", "", ""))
    row("delivered msgs/s", "fanout-t2", "publish", "delivered_per_s")
    row("delivered msgs per gateway CPU-second", "fanout-t2", "publish", "delivered_per_gateway_cpu_s")
    row("Redis CPU-s (summed over the masters)", "fanout-t2", "publish", "redis_cpu_s", fmt=lambda v: num(v, 3))
    row("lost", "fanout-t2", "publish", "lost", show_ratio=False, how="sum")

machine = env["MACHINE"]
out = []
p = out.append
p(f"# wsgate on a {masters}-master Redis Cluster against one Redis\n")
p("Written by `make bench-cluster` (`bench/cluster.sh`, load generator `bench/wsload.cpp`). "
  f"The gateway runs alone on core {env['GW_CPU']} (`taskset`); wsgate-load, the single Redis and "
  f"all {masters} cluster masters share core {env['LOAD_CPU']}. A fresh gateway per run; each "
  f"figure's single-Redis and cluster runs ran back to back, {reps} times (alternating which "
  "went first); the table shows medians. On the cluster the gateway uses "
  "`--redis-mode cluster` (SSUBSCRIBE on each slot's master) and wsgate-load sends each "
  "`SPUBLISH ws:<user>` to its slot's master over one pipelined connection per master. "
  "Definitions as in `bench/results/2026-11-25.md`: delivered msgs/s = messages read by all "
  "clients ÷ (first publish → last delivery); msgs per gateway CPU-s = the same count ÷ the "
  "gateway's Δ(utime+stime) over that window; Redis CPU = Δ(used_cpu_user+used_cpu_sys) summed "
  "over the masters; latency = publish formatted → frame read, one CLOCK_MONOTONIC. "
  "64-byte payloads.\n")
p(f"What this can and cannot show: every Redis here shares one core with the load generator, "
  f"so the {masters} masters add no Redis CPU; the comparison is the gateway's side of cluster "
  "mode (one subscriber link per master per shard, SSUBSCRIBE, reads spread over "
  f"{masters} sockets) and the Redis CPU the same messages cost on either deployment. Where "
  "Redis is the bottleneck, masters on their own cores add its capacity; the gateway's "
  "figure per CPU-second is what a gateway then delivers.\n")
p("## Machine\n")
for l in machine.splitlines():
    p(f"- {l}")
p(f"- **Load average at start: {env['LOADAVG0']}**, at the end: {env['LOADAVG1']}; "
  f"the run took {env['ELAPSED']} s. Per run: see the saturation table.\n")
if skipped:
    p("**Skipped or failed:**\n")
    for l in skipped:
        p(f"- {l}")
    p("")
p("## Results\n")
p(f"| figure | one Redis | {masters}-master cluster | cluster ÷ one |")
p("|---|---|---|---|")
for figure, a, b, r in rows:
    p(f"| {figure} | {a} | {b} | {r} |")
p("")
p("## Saturation\n")
p("| run | load average at start | gateway CPU busy | load generator busy | Redis CPU-s | cores busy |")
p("|---|---|---|---|---|---|")
for name, setup, mode, la in runs:
    pub = get(name, "publish") or {}
    pct = lambda v: "—" if v is None else f"{100 * v:.0f}%"
    cores = " / ".join(pct(v) for v in pub.get("core_busy", [])) or "—"
    p(f"| {name} | {la} | {pct(pub.get('gateway_cpu_util'))} | {pct(pub.get('loadgen_cpu_util'))} | "
      f"{num(pub.get('redis_cpu_s'), 3)} | {cores} |")
p("")
p("## Commands\n")
p("```sh")
p("make bench-cluster   # = bench/cluster.sh; sizes overridable by environment (see its header)")
for l in open(f"{work}/commands.txt"):
    p(l.rstrip("\n"))
p("```\n")
p("## Raw output\n")
for name, setup, mode, la in runs:
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
open(env["RESULTS"], "w").write("\n".join(out) + "\n")
PYEOF
say "wrote ${RESULTS#"$ROOT"/} in ${ELAPSED} s"
sed -n '/^## Machine/,/^## Saturation/p' "$RESULTS" | sed '$d' >&2
