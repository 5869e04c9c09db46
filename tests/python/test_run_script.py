"""scripts/run.sh (`make run`) against the built gateway: it starts its own redis-server and a
demo gateway on a free loopback port, prints the page URL with the access key and a demo
token, and stops both on SIGTERM. Needs WSGATE_BINARY (its directory is the BUILD run.sh
uses) and redis-server."""

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from test_gateway import free_port

ROOT = Path(__file__).resolve().parents[2]


def read_until(proc, pattern, timeout):
    """Lines of proc.stdout until one matches `pattern` (bounded by `timeout`), or None."""
    lines = []
    found = False
    done = threading.Event()

    def reader():
        nonlocal found
        for line in proc.stdout:
            lines.append(line)
            if re.search(pattern, line):
                found = True
                break
        done.set()  # found, or the end of the output

    threading.Thread(target=reader, daemon=True).start()
    done.wait(timeout)
    return "".join(lines) if found else None


# The gateway's log settings in the environment of `make run` must not stop it from finding
# the key: it reads the key from the text log, so it starts the gateway with explicit
# --log-format text --log-level info.
def test_run_sh_prints_the_page_and_a_token_whatever_the_log_settings(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSGATE_")}
    env.update(BUILD=str(Path(os.environ["WSGATE_BINARY"]).parent),
               RUN_STATE=str(tmp_path / "run"),
               WSGATE_LISTEN=f"127.0.0.1:{port}",
               WSGATE_LOG_FORMAT="json",
               WSGATE_LOG_LEVEL="error")
    log = open(tmp_path / "run.stderr", "wb")
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "run.sh")], stdout=subprocess.PIPE,
                            stderr=log, env=env, text=True, start_new_session=True)
    try:
        out = read_until(proc, r"^\s+token:", 30)
        assert out is not None, (f"run.sh printed no token line within 30 s "
                                 f"(exit {proc.poll()}):\n"
                                 f"{(tmp_path / 'run.stderr').read_text(errors='replace')}")
        page = re.search(r"page:\s+(\S+)", out)
        assert page, out
        assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/\?key=[A-Za-z0-9_-]{{43}}",
                            page.group(1)), out
        token = re.search(r"token:\s+(\S+)", out).group(1)
        assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token), out
        with urllib.request.urlopen(page.group(1), timeout=5) as res:
            assert res.status == 200
        # The log settings of the environment lose to the script's flags.
        stderr = (tmp_path / "run.stderr").read_text(errors="replace")
        assert " demo_mode " in stderr and '{"' not in stderr, stderr
    finally:
        # run.sh stops its redis-server and gateway on SIGTERM; the group is what it started.
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()
    assert proc.returncode == 0
    # Nothing it started outlives it.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("run.sh left processes behind")
