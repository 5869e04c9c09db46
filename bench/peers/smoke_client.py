"""Contract checks against one running peer (used by smoke.sh; Debian's /usr/bin/python3).

usage: smoke_client.py WS_PORT REDIS_URL SECRET
Checks, each under a timeout: a wrong `sub`, a garbage token, a missing token, an expired token
and an HS384 token are closed with 1008 after the handshake; a valid token receives published
payloads byte for byte as text frames, on every socket of the user; after the last socket of a
user closes, its channel has no subscriber left (PUBSUB NUMSUB). Prints one line per check;
exits 1 if any failed.
"""
import asyncio
import sys
import time

import jwt
import redis.asyncio as redis
import websockets

PORT, REDIS_URL, SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3]
failures = 0


def report(name, ok, detail=""):
    global failures
    failures += 0 if ok else 1
    print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)


def token(sub, secret=SECRET, alg="HS256", **extra):
    return jwt.encode({"sub": sub, **extra}, secret, algorithm=alg)


def url(client_id, tok):
    q = "" if tok is None else f"?token={tok}"
    return f"ws://127.0.0.1:{PORT}/ws/v1/status/{client_id}{q}"


async def expect_close(name, client_id, tok, code=1008):
    try:
        async with websockets.connect(url(client_id, tok), open_timeout=5, close_timeout=5) as ws:
            try:
                msg = await asyncio.wait_for(ws.recv(), 5)
                report(name, False, f"got a message {msg!r} instead of a close")
                return
            except websockets.ConnectionClosed as e:
                got = e.rcvd.code if e.rcvd else None
                report(name, got == code, f"close code {got}")
    except websockets.InvalidStatusCode as e:
        report(name, False, f"handshake refused with HTTP {e.status_code}, want close {code}")
    except Exception as e:  # timeouts, refused connections
        report(name, False, repr(e))


async def wait_numsub(r, channel, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        n = dict(await r.pubsub_numsub(channel)).get(channel.encode(), 0)
        if n == want or time.monotonic() > deadline:
            return n
        await asyncio.sleep(0.05)


async def delivery(r):
    user = "smoke-user-1"
    channel = f"ws:{user}"
    payloads = ["hello", '{"event":"x","n":1}', "unicode ✓ é", "a" * 3000]
    a = await websockets.connect(url(user, token(user, exp=int(time.time()) + 600)), open_timeout=5)
    b = await websockets.connect(url(user, token(user)), open_timeout=5)
    try:
        # A peer may answer 101 before its SUBSCRIBE reached Redis: wait until it has.
        n = await wait_numsub(r, channel, 1)
        report("subscribed after the handshake", n >= 1, f"PUBSUB NUMSUB {channel} = {n}")
        for p in payloads:
            await r.publish(channel, p)
        for name, ws in (("first socket", a), ("second socket", b)):
            got = [await asyncio.wait_for(ws.recv(), 5) for _ in payloads]
            report(f"exact payloads as text frames ({name})", got == payloads,
                   "" if got == payloads else f"got {got!r}")
    finally:
        await a.close()
    # One socket of the user left: it still gets messages.
    await r.publish(channel, "still here")
    got = await asyncio.wait_for(b.recv(), 5)
    report("remaining socket still delivers", got == "still here", repr(got))
    await b.close()
    n = await wait_numsub(r, channel, 0)
    report("subscription released after the last socket", n == 0, f"PUBSUB NUMSUB {channel} = {n}")


async def main():
    r = redis.Redis.from_url(REDIS_URL)
    checks = [
        expect_close("wrong sub gets 1008", "alice", token("bob")),
        expect_close("garbage token gets 1008", "alice", "not.a.jwt"),
        expect_close("missing token gets 1008", "alice", None),
        expect_close("bad signature gets 1008", "alice", token("alice", secret="other-secret")),
        expect_close("expired token gets 1008", "alice", token("alice", exp=int(time.time()) - 60)),
        expect_close("HS384 token gets 1008", "alice", token("alice", alg="HS384")),
    ]
    for c in checks:
        await asyncio.wait_for(c, 15)
    await asyncio.wait_for(delivery(r), 30)
    await r.close()


try:
    asyncio.run(main())
except Exception as e:
    report("client script", False, repr(e))
sys.exit(1 if failures else 0)
