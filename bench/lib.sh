# shellcheck shell=bash
# shellcheck disable=SC2034  # REDIS_*, GW_* are read by the scripts that source this file
# bench/lib.sh: what the bench drivers (run_local.sh, soak.sh, bench.sh) share: a private
# redis-server, wsgate gateways (one or several sharing a port with SO_REUSEPORT), any server
# that is ready when its port accepts, and stopping each of them by PID.
#
# Source it after setting WORK (a directory for logs), GATEWAY (the wsgate binary) and SECRET.
# Every start records its PID in LIB_PIDS; lib_cleanup stops them all (SIGTERM, up to 10 s,
# then SIGKILL), newest first: call it from the EXIT trap. Nothing is stopped by name.

LIB_PIDS=()
GW_PIDS=()

stop_pid() {  # stop_pid PID: SIGTERM, up to 10 s, then SIGKILL
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

lib_forget() {  # lib_forget PID...: drop from LIB_PIDS (after the caller stopped them)
  local keep=() p q drop
  for p in "${LIB_PIDS[@]}"; do
    drop=0
    for q in "$@"; do [[ $p == "$q" ]] && drop=1; done
    ((drop)) || keep+=("$p")
  done
  LIB_PIDS=("${keep[@]}")
}

lib_cleanup() {  # stop everything started through this file, newest first
  local i
  for ((i = ${#LIB_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${LIB_PIDS[i]}"; done
  LIB_PIDS=()
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT SECONDS [PID]: until 127.0.0.1:PORT accepts; fails early when PID has exited.
wait_port() {
  local port=$1 secs=$2 pid=${3:-} i
  for ((i = 0; i < secs * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null && return 1
    sleep 0.1
  done
  return 1
}

# start_redis CPU [redis-server flags...]: a private Redis on a free loopback port, no
# persistence, pinned to CPU. Sets REDIS_PID, REDIS_PORT, REDIS_URL and REDIS_CMD.
start_redis() {
  local cpu=$1
  shift
  REDIS_PORT=$(free_port)
  REDIS_CMD="taskset -c $cpu redis-server --port $REDIS_PORT --bind 127.0.0.1 --save \"\" --appendonly no --loglevel warning $*"
  taskset -c "$cpu" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --loglevel warning --logfile "$WORK/redis.log" "$@" &
  REDIS_PID=$!
  LIB_PIDS+=("$REDIS_PID")
  for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || { echo "redis did not start:" >&2; cat "$WORK/redis.log" >&2; return 1; }
  REDIS_URL=redis://127.0.0.1:$REDIS_PORT
}

# start_redis_cluster CPU COUNT [redis-server flags...]: a Redis Cluster of COUNT masters (no
# replicas) on free loopback ports, every node pinned to CPU, no persistence, each with an
# explicit --cluster-port (the default bus port, port + 10000, may be taken), created with
# `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes` and ready once every node
# reports cluster_state:ok. Node files and logs go to WORK/cluster-PORT.*. Sets CLUSTER_PIDS and
# CLUSTER_PORTS (arrays), CLUSTER_URL (the seed list redis://127.0.0.1:P1,...: wsgate's and
# wsgate-load's --redis-url for --redis-mode cluster) and CLUSTER_CMD (one node's command).
start_redis_cluster() {
  local cpu=$1 count=$2 i port bus pid ok create=()
  shift 2
  CLUSTER_PIDS=()
  CLUSTER_PORTS=()
  CLUSTER_URL=""
  for ((i = 0; i < count; i++)); do
    port=$(free_port)
    bus=$(free_port)
    taskset -c "$cpu" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
      --loglevel warning --logfile "$WORK/cluster-$port.log" --cluster-enabled yes \
      --cluster-port "$bus" --cluster-config-file "$WORK/cluster-$port.nodes.conf" \
      --dir "$WORK" "$@" &
    pid=$!
    LIB_PIDS+=("$pid")
    CLUSTER_PIDS+=("$pid")
    CLUSTER_PORTS+=("$port")
    CLUSTER_URL+="${CLUSTER_URL:+,}redis://127.0.0.1:$port"
    create+=("127.0.0.1:$port")
    ((i == 0)) && CLUSTER_CMD="taskset -c $cpu redis-server --port $port --bind 127.0.0.1 --save \"\" --appendonly no --loglevel warning --cluster-enabled yes --cluster-port $bus --cluster-config-file \$WORK/cluster-$port.nodes.conf --dir \$WORK $*"
  done
  for port in "${CLUSTER_PORTS[@]}"; do
    for _ in $(seq 50); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    redis-cli -p "$port" ping >/dev/null 2>&1 || { echo "cluster node $port did not start:" >&2; cat "$WORK/cluster-$port.log" >&2; return 1; }
  done
  if ! timeout 30 redis-cli --cluster create "${create[@]}" --cluster-replicas 0 --cluster-yes \
       >"$WORK/cluster-create.log" 2>&1; then
    echo "redis-cli --cluster create failed:" >&2
    cat "$WORK/cluster-create.log" >&2
    return 1
  fi
  for _ in $(seq 200); do
    ok=1
    for port in "${CLUSTER_PORTS[@]}"; do
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || { ok=0; break; }
    done
    ((ok)) && return 0
    sleep 0.1
  done
  echo "the cluster did not reach cluster_state:ok within 20 s" >&2
  return 1
}

# start_gateways NAME COUNT CPU THREADS [extra wsgate flags...]: COUNT wsgate processes pinned
# to CPU, the first on a free port and the others on the same port (the listener sets
# SO_REUSEPORT, so the kernel spreads connections over them), each ready once its Redis link
# is up (a log line matching GW_READY, default redis_connected). Uses GATEWAY, REDIS_URL,
# SECRET and GW_ENV (extra environment, e.g. LD_PRELOAD=...).
# Logs go to WORK/gateway-NAME-I.log. Sets GW_PIDS (array), GW_PID_LIST (a,b,c), GW_PID (the
# first), GW_PORT and GW_CMD (the first command, secret elided).
start_gateways() {
  local name=$1 count=$2 cpu=$3 threads=$4 i log listen pid
  shift 4
  GW_PIDS=()
  GW_PORT=""
  for ((i = 0; i < count; i++)); do
    log=$WORK/gateway-$name-$i.log
    listen=127.0.0.1:${GW_PORT:-0}
    # shellcheck disable=SC2086
    env ${GW_ENV:-} taskset -c "$cpu" "$GATEWAY" --listen "$listen" --threads "$threads" \
      --redis-url "$REDIS_URL" --jwt-secret "$SECRET" "$@" 2>"$log" &
    pid=$!
    LIB_PIDS+=("$pid")
    GW_PIDS+=("$pid")
    local port=""
    for _ in $(seq 100); do
      if grep -q "${GW_READY:-redis_connected}" "$log" 2>/dev/null; then
        port=$(grep -m1 ' listening ' "$log" | sed -n 's/.* port=\([0-9]*\).*/\1/p')
        break
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    [[ -n $port ]] || { echo "gateway $name-$i did not start:" >&2; cat "$log" >&2; return 1; }
    GW_PORT=$port
    ((i == 0)) && GW_CMD="${GW_ENV:+$GW_ENV }taskset -c $cpu $GATEWAY --listen 127.0.0.1:0 --threads $threads --redis-url $REDIS_URL --jwt-secret \$SECRET $*"
  done
  GW_PID=${GW_PIDS[0]}
  GW_PID_LIST=$(IFS=,; echo "${GW_PIDS[*]}")
}

stop_gateways() {  # SIGTERM every GW_PIDS process, then forget them
  local p
  for p in "${GW_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${GW_PIDS[@]}"; do stop_pid "$p"; done
  lib_forget "${GW_PIDS[@]}"
  GW_PIDS=()
}

machine_lines() {  # the machine and versions, for the head of a result
  echo "machine: nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')\" kernel=$(uname -r) loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
  echo "versions: $(redis-server --version | cut -d' ' -f1-3), hiredis $(pkg-config --modversion hiredis 2>/dev/null || echo '?'), boost $(grep -m1 'define BOOST_LIB_VERSION' /usr/include/boost/version.hpp | cut -d'"' -f2)"
}
