#!/usr/bin/env bash
# `make run`: a local gateway for trying wsgate out. Starts redis-server on a free port
# unless WSGATE_REDIS_URL is set, starts the gateway in demo mode (the page at / for loopback
# clients holding the access key the gateway logs), prints the page's URL with that key, a
# demo token, a connection URL and a publish command, and stops what it started on Ctrl-C.
# BUILD (build) is the build directory, RUN_STATE (.run) where Redis's files, the JWT secret
# and the gateway's log go.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
umask 077  # $state holds the JWT secret and the gateway's log, which shows the demo key
mkdir -p "${RUN_STATE:-.run}"
state=$(cd "${RUN_STATE:-.run}" && pwd)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [[ -z ${WSGATE_REDIS_URL:-} ]]; then
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --logfile "$state/redis.log" --dir "$state" &
  pids+=($!)
  export WSGATE_REDIS_URL="redis://127.0.0.1:$port"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "wsgate: started redis-server on 127.0.0.1:$port (log: $state/redis.log)"
fi

if [[ -z ${WSGATE_JWT_SECRET:-} && -z ${WSGATE_JWT_SECRET_FILE:-} && -z ${WSGATE_JWT_PUBLIC_KEY_FILE:-} && -z ${WSGATE_JWT_JWKS_FILE:-} ]]; then
  if [[ ! -s $state/jwt-secret ]]; then
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$state/jwt-secret"
  fi
  export WSGATE_JWT_SECRET_FILE="$state/jwt-secret"
fi
# --demo listens on loopback only (the gateway refuses anything else).
export WSGATE_LISTEN=${WSGATE_LISTEN:-127.0.0.1:8080}

# The log goes to the terminal and to $state/wsgate.log, where the page URL is read from: in
# the text format, at level info at least (the demo_mode line is a warning), whatever
# WSGATE_LOG_FORMAT and WSGATE_LOG_LEVEL say, since flags win over the environment.
rm -f "$state/wsgate.log"
"$build/wsgate" --demo true --log-format text --log-level info \
  2> >(tee "$state/wsgate.log" >&2) &
gw=$!
pids+=($gw)
host=${WSGATE_LISTEN%:*}
gport=${WSGATE_LISTEN##*:}
page=
for _ in $(seq 100); do
  kill -0 "$gw" 2>/dev/null || { echo "wsgate: the gateway exited; see the message above" >&2; exit 1; }
  # The one log line that shows the demo access key: demo_mode ... page="http://...?key=..."
  page=$(sed -n 's/.* demo_mode .*page="\{0,1\}\(http:[^" ]*\).*/\1/p' "$state/wsgate.log" 2>/dev/null | tail -n 1) || page=
  [[ -n $page ]] && /usr/bin/python3 - "$host" "$gport" <<'PY' && break
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/readyz", timeout=1)
except Exception:
    sys.exit(1)
PY
  sleep 0.1
done
[[ -n $page ]] || { echo "wsgate: no demo page URL in $state/wsgate.log" >&2; exit 1; }

# A demo token: minted by this gateway with a key of its own, valid an hour, here only. The
# key goes to python in its environment, which only this user can read, not in its argv,
# which `ps` shows to every user of the host.
user=demo-user
token=$(WSGATE_RUN_DEMO_KEY=${page##*key=} /usr/bin/python3 - "$host" "$gport" "$user" <<'PY'
import json, os, sys, urllib.request
host, port, user = sys.argv[1:]
req = urllib.request.Request(f"http://{host}:{port}/demo/token?user={user}",
                             headers={"X-Wsgate-Demo-Key": os.environ["WSGATE_RUN_DEMO_KEY"]})
print(json.load(urllib.request.urlopen(req, timeout=2))["token"])
PY
) || token=
cat <<TXT

wsgate is running on ws://$host:$gport  (Ctrl-C stops it and the Redis it started)
  page:     $page
            (demo mode: open it in a browser on this machine; the key changes at every start)
  user:     $user
  token:    ${token:-<none: see the log above>}  (a demo token: 1 hour, this gateway only)
  connect:  ws://$host:$gport/ws/v1/status/$user?token=${token:-TOKEN}
  publish:  $build/wsgate-publish --redis-url $WSGATE_REDIS_URL $user '{"status":"hello"}'
  health:   curl http://$host:$gport/readyz   metrics: curl http://$host:$gport/metrics

TXT
wait "$gw"
