#!/usr/bin/env bash
# `make test-package`: installs the Debian package built by `make package`, checks its files,
# runs the installed gateway against a private redis-server on a free loopback port, connects
# a WebSocket with a token from the installed wsgate-token, publishes with the installed
# wsgate-publish and checks the message arrives. Then stops what it started (by PID) and
# purges the package, leaving the machine as it was. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${PACKAGE_BUILD:-build-package}
py=/usr/bin/python3  # Debian's, with python3-websockets
started=$SECONDS

fail() { echo "test-package: FAIL: $*" >&2; exit 1; }
say() { echo "test-package: $*"; }

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || fail "need root (or sudo) to install the package"
  sudo="sudo"
fi

shopt -s nullglob
debs=("$build"/wsgate_*.deb)
shopt -u nullglob
[[ ${#debs[@]} -eq 1 ]] || fail "expected one $build/wsgate_*.deb, found ${#debs[@]}; run make package"
deb=$(realpath "${debs[0]}")
if dpkg-query -W -f='${Status}' wsgate 2>/dev/null | grep -q "install ok installed"; then
  fail "a wsgate package is already installed; this test installs and purges its own"
fi

work=$(mktemp -d)
redis_pid=""
gw=""
installed=0
cleanup() {
  local rc=$?
  for pid in $gw $redis_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in $gw $redis_pid; do wait "$pid" 2>/dev/null || true; done
  if [[ $installed -eq 1 ]]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get purge -y -qq wsgate >/dev/null 2>&1 ||
      { echo "test-package: could not purge wsgate" >&2; rc=1; }
    [[ ! -e /usr/bin/wsgate ]] || { echo "test-package: /usr/bin/wsgate is still there" >&2; rc=1; }
  fi
  if [[ $rc -ne 0 ]]; then
    for f in "$work"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2 || true; done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "package $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB"
dpkg-deb --field "$deb" Package Version Section Depends
[[ $(dpkg-deb --field "$deb" Depends) == *libc6* ]] || fail "no shared-library dependencies in the package"
dpkg-deb --contents "$deb" | grep -q 'wsgate-load' && fail "the package holds the bench tool"

installed=1
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$deb" \
  >"$work/apt.log" 2>&1 || fail "apt-get install $deb failed"

for f in /usr/bin/wsgate /usr/bin/wsgate-publish /usr/bin/wsgate-token; do
  [[ -x $f ]] || fail "$f is missing or not executable"
done
unit=/usr/lib/systemd/system/wsgate.service
[[ -f $unit ]] || unit=/lib/systemd/system/wsgate.service
[[ -f $unit ]] || fail "the systemd unit wsgate.service is missing"
[[ -f /etc/default/wsgate ]] || fail "/etc/default/wsgate is missing"
dpkg-query -W -f='${Conffiles}\n' wsgate | grep -q '^ /etc/default/wsgate ' ||
  fail "/etc/default/wsgate is not a conffile"
[[ -f /usr/share/man/man1/wsgate.1.gz ]] || fail "the man page wsgate.1.gz is missing"
[[ -f /usr/share/doc/wsgate/README.md ]] || fail "/usr/share/doc/wsgate/README.md is missing"
grep -qx 'ExecStart=/usr/bin/wsgate' "$unit" || fail "$unit does not start /usr/bin/wsgate"
grep -qx 'EnvironmentFile=-/etc/default/wsgate' "$unit" || fail "$unit does not read /etc/default/wsgate"
if command -v systemd-analyze >/dev/null; then
  # Outside a systemd-booted machine it may not load units at all; then only warn.
  if ! systemd-analyze verify "$unit" >"$work/verify.log" 2>&1; then
    grep -v -e 'not booted' -e 'PID 1' -e 'System has not been booted' "$work/verify.log" |
      grep -i -e 'unknown' -e 'invalid' -e 'failed to parse' -e 'ignoring' >&2 &&
      fail "systemd-analyze verify $unit"
    say "systemd-analyze verify could not run fully here: $(head -n1 "$work/verify.log")"
  fi
fi
/usr/bin/wsgate --version | grep -qx "$(dpkg-deb --field "$deb" Version)" ||
  fail "wsgate --version does not print the package version"
say "installed: binaries, $unit, /etc/default/wsgate (conffile), man page, docs"

free_port() {
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A private Redis.
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
  --logfile "$work/redis.log" --dir "$work" &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$rport" ping >/dev/null 2>&1 || fail "redis-server did not start on port $rport"

# The installed gateway, with the installed environment file's settings (all commented out
# by default) and the test's own on top.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/jwt-secret"
: >"$work/wsgate.log"
(
  set -a
  # shellcheck disable=SC1091
  . /etc/default/wsgate
  set +a
  export WSGATE_REDIS_URL="redis://127.0.0.1:$rport" WSGATE_JWT_SECRET_FILE="$work/jwt-secret"
  exec /usr/bin/wsgate --listen 127.0.0.1:0 --threads 1
) 2>>"$work/wsgate.log" &
gw=$!
gport=""
for _ in $(seq 100); do
  kill -0 "$gw" 2>/dev/null || fail "the installed wsgate exited at start"
  gport=$(sed -n 's/.* listening .*port=\([0-9]*\).*/\1/p' "$work/wsgate.log" | head -n1)
  [[ -n $gport ]] && break
  sleep 0.1
done
[[ -n $gport ]] || fail "wsgate logged no listening port within 10 s"
ready=0
for _ in $(seq 100); do
  if "$py" - "$gport" <<'PY'; then ready=1; break; fi
import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz", timeout=1).status == 200 else 1)
except Exception:
    sys.exit(1)
PY
  sleep 0.1
done
[[ $ready -eq 1 ]] || fail "/readyz did not answer 200 within 10 s"
say "the installed wsgate is ready on 127.0.0.1:$gport (Redis on $rport)"

user="pkg-user-$$"
token=$(/usr/bin/wsgate-token --secret-file "$work/jwt-secret" --sub "$user" --ttl 5m) ||
  fail "wsgate-token failed"
payload="{\"status\":\"from the package $$\"}"
timeout 30 "$py" - "$gport" "$user" "$token" "$payload" "$rport" <<'PY' || fail "no delivery"
import asyncio, subprocess, sys
import websockets

port, user, token, payload, rport = sys.argv[1:6]

async def main():
    url = f"ws://127.0.0.1:{port}/ws/v1/status/{user}?token={token}"
    async with websockets.connect(url, open_timeout=10) as ws:
        # Subscribed before open: a publish now must arrive.
        out = subprocess.run(
            ["/usr/bin/wsgate-publish", "--redis-url", f"redis://127.0.0.1:{rport}",
             "--timeout", "5s", user, payload],
            capture_output=True, text=True, timeout=15)
        if out.returncode != 0:
            sys.exit(f"wsgate-publish failed ({out.returncode}): {out.stderr.strip()}")
        got = await asyncio.wait_for(ws.recv(), timeout=10)
        if got != payload:
            sys.exit(f"received {got!r}, expected {payload!r}")
        print(f"test-package: delivered {got} (wsgate-publish: {out.stdout.strip() or 'ok'})")

asyncio.run(main())
PY

# A clean stop: SIGTERM, exit status 0 within --shutdown-timeout (5 s) and some slack.
kill -TERM "$gw"
for _ in $(seq 100); do kill -0 "$gw" 2>/dev/null || break; sleep 0.1; done
kill -0 "$gw" 2>/dev/null && fail "wsgate did not stop within 10 s of SIGTERM"
status=0
wait "$gw" || status=$?
gw=""
[[ $status -eq 0 ]] || fail "wsgate exited with status $status after SIGTERM"
say "passed in $((SECONDS - started)) s; purging the package"
