"""End-to-end checks of the gateway with an independent client: Python's `websockets`
(Debian's python3-websockets) and redis-py, against a real redis-server and the built
wsgate binary. Run by CTest as `python_clients`; needs WSGATE_BINARY and
WSGATE_TOKEN_BINARY. A missing redis-server fails the run."""

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import jwt
import pytest
import redis
import websockets

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
from wsgate_publish import publish_user_notification  # noqa: E402

SECRET = "python-test-secret-0123456789abcdef"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def redis_port():
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert os.path.exists(exe), "redis-server is required (apt-get install redis-server)"
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)

    def up():
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    wait_for(up, what="redis-server")
    yield port
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def gateway_log(tmp_path_factory):
    return tmp_path_factory.mktemp("gateway") / "wsgate.log"


@pytest.fixture(scope="module")
def gateway(redis_port, gateway_log):
    exe = os.environ["WSGATE_BINARY"]
    log = open(gateway_log, "wb")
    # Debug level: the log must stay free of tokens even at its most verbose.
    proc = subprocess.Popen([exe, "--listen", "127.0.0.1:0", "--redis-url",
                             f"redis://127.0.0.1:{redis_port}", "--jwt-secret", SECRET,
                             "--threads", "2", "--log-level", "debug"], stderr=log)
    port = None

    def reported():
        nonlocal port
        m = re.search(r"\blistening\b.*\bport=(\d+)", gateway_log.read_text())
        port = int(m.group(1)) if m else None
        return port is not None

    wait_for(reported, what="the gateway to report its port")

    def ready():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).status == 200
        except Exception:
            return False

    wait_for(ready, what="/readyz")
    yield port
    proc.terminate()
    assert proc.wait(10) == 0
    log.close()


def token(user, ttl="1h", extra=()):
    out = subprocess.run([os.environ["WSGATE_TOKEN_BINARY"], "--secret", SECRET, "--sub", user,
                          "--ttl", ttl, *extra], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def url(port, client_id, tok):
    return f"ws://127.0.0.1:{port}/ws/v1/status/{client_id}?token={tok}"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_delivers_published_payload_as_text(gateway, redis_port):
    async def go():
        r = redis.Redis(port=redis_port)
        async with websockets.connect(url(gateway, "py-alice", token("py-alice"))) as ws:
            assert publish_user_notification(r, "py-alice", '{"status":"ready","n":"é"}') >= 1
            msg = await asyncio.wait_for(ws.recv(), 5)
            assert isinstance(msg, str)
            assert msg == '{"status":"ready","n":"é"}'
    run(go())


def test_mismatched_client_id_closes_with_1008(gateway):
    async def go():
        async with websockets.connect(url(gateway, "py-bob", token("py-mallory"))) as ws:
            with pytest.raises(websockets.ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            assert info.value.rcvd.code == 1008
            assert info.value.rcvd.reason == "client_id mismatch"
    run(go())


def test_expired_token_closes_with_1008(gateway):
    async def go():
        # Expired two minutes ago: beyond the default 30 s leeway.
        # Minted with PyJWT, an implementation independent of ours.
        tok = jwt.encode({"sub": "py-carol", "exp": int(time.time()) - 120}, SECRET, algorithm="HS256")
        async with websockets.connect(url(gateway, "py-carol", tok)) as ws:
            with pytest.raises(websockets.ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            assert info.value.rcvd.code == 1008
            assert info.value.rcvd.reason == "token expired"
    run(go())


def test_bearer_header_is_accepted(gateway, redis_port):
    async def go():
        r = redis.Redis(port=redis_port)
        headers = {"Authorization": "Bearer " + token("py-dave")}
        async with websockets.connect(f"ws://127.0.0.1:{gateway}/ws/v1/status/py-dave",
                                      extra_headers=headers) as ws:
            publish_user_notification(r, "py-dave", "via header")
            assert await asyncio.wait_for(ws.recv(), 5) == "via header"
    run(go())


def test_subscription_is_released_when_the_last_connection_goes(gateway, redis_port):
    r = redis.Redis(port=redis_port)

    def numsub():
        return dict(r.pubsub_numsub("ws:py-erin"))[b"ws:py-erin"]

    async def go():
        a = await websockets.connect(url(gateway, "py-erin", token("py-erin")))
        b = await websockets.connect(url(gateway, "py-erin", token("py-erin")))
        assert numsub() >= 1
        await a.close()
        publish_user_notification(r, "py-erin", "still here")
        assert await asyncio.wait_for(b.recv(), 5) == "still here"
        await b.close()
    run(go())
    wait_for(lambda: numsub() == 0, what="PUBSUB NUMSUB to reach 0")


def test_tokens_and_query_strings_never_reach_the_log(gateway, gateway_log):
    tok = token("py-frank")

    async def go():
        async with websockets.connect(url(gateway, "py-frank", tok)) as ws:
            await ws.ping()
        async with websockets.connect(url(gateway, "py-other", tok)) as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
    run(go())
    text = gateway_log.read_text()
    signature = tok.rsplit(".", 1)[1]
    assert "listening" in text
    assert signature not in text
    assert "token=" not in text
