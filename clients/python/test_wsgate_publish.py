"""Tests for wsgate_publish against a real redis-server started on a free loopback port.

A missing redis-server fails these tests (it never skips them): in CI a skip would pass.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import redis
import redis.asyncio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsgate_publish  # noqa: E402


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_server_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )
    if found is None:
        pytest.fail("redis-server not found on PATH or at /usr/bin/redis-server (apt-get install redis-server)")
    return found


@pytest.fixture
def redis_port():
    """A throwaway redis-server (no persistence) on 127.0.0.1; yields its port."""
    binary = _redis_server_binary()
    for _ in range(5):  # the free port may be taken before redis binds it
        port = _free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--protected-mode", "no", "--daemonize", "no"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    if client.ping():
                        break
                except redis.exceptions.ConnectionError:
                    time.sleep(0.02)
            else:
                output = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                    pytest.fail(f"redis-server on port {port} did not answer PING within 10 s")
                if "in use" in output:
                    continue
                pytest.fail(f"redis-server exited at startup:\n{output}")
        finally:
            client.close()
        try:
            yield port
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        return
    pytest.fail("no free port for redis-server after 5 attempts")


@pytest.fixture
def client(redis_port):
    c = redis.Redis(host="127.0.0.1", port=redis_port, socket_timeout=5)
    yield c
    c.close()


def _subscribe(redis_port: int, user_id: str):
    """A redis-py PubSub subscribed to the user's channel, ack consumed."""
    sub = redis.Redis(host="127.0.0.1", port=redis_port, socket_timeout=5).pubsub()
    sub.subscribe(wsgate_publish.channel_for_user(user_id))
    ack = sub.get_message(timeout=5)
    assert ack is not None and ack["type"] == "subscribe"
    return sub


def _next_message(sub, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = sub.get_message(timeout=deadline - time.monotonic())
        if msg is not None and msg["type"] == "message":
            return msg
    return None


def test_channel_prefix_matches_the_gateway():
    header = os.path.join(os.path.dirname(__file__), "..", "..", "src", "redis", "channel.hpp")
    with open(header, encoding="utf-8") as f:
        assert f'channel_prefix = "{wsgate_publish.CHANNEL_PREFIX}"' in f.read()
    assert wsgate_publish.channel_for_user("u-1") == "ws:u-1"


def test_other_issuers_users_have_their_own_channels():
    # The same vectors as tests/unit/key_slot_test.cpp: the gateway names them identically.
    ch = wsgate_publish.channel_for_user
    assert ch("bob", None) == ch("bob", "") == "ws:bob"
    assert ch("bob", "https://b.example/") == "ws@https%3A%2F%2Fb.example%2F:bob"
    assert ch("u", "A-z0.9_~ {x}:%") == "ws@A-z0.9_~%20%7Bx%7D%3A%25:u"
    assert ch("u", "\u00e9") == "ws@%C3%A9:u"
    with pytest.raises(TypeError):
        ch("u", b"iss")


def test_issuer_selects_the_namespaced_channel(client, redis_port):
    sub = redis.Redis(host="127.0.0.1", port=redis_port, socket_timeout=5).pubsub()
    sub.subscribe("ws@https%3A%2F%2Fpartner.example.net:bob")
    assert sub.get_message(timeout=5)["type"] == "subscribe"
    plain = _subscribe(redis_port, "bob")

    async def apublish() -> int:
        r = redis.asyncio.Redis(host="127.0.0.1", port=redis_port, socket_timeout=5)
        try:
            return await wsgate_publish.apublish_user_notification(
                r, "bob", "async", issuer="https://partner.example.net")
        finally:
            await r.close()

    try:
        assert wsgate_publish.publish_user_notification(
            client, "bob", "sync", issuer="https://partner.example.net") == 1
        assert _next_message(sub)["data"] == b"sync"
        assert asyncio.run(apublish()) == 1
        assert _next_message(sub)["data"] == b"async"
        assert _next_message(plain, timeout=0.2) is None
    finally:
        sub.close()
        plain.close()


def test_no_subscriber_means_zero(client):
    assert wsgate_publish.publish_user_notification(client, "nobody", "hi") == 0


def test_subscribers_receive_the_payload_and_are_counted(client, redis_port):
    a = _subscribe(redis_port, "u-1")
    b = _subscribe(redis_port, "u-1")
    other = _subscribe(redis_port, "u-2")
    try:
        assert wsgate_publish.publish_user_notification(client, "u-1", '{"status":"done"}') == 2
        for sub in (a, b):
            msg = _next_message(sub)
            assert msg is not None
            assert msg["channel"] == b"ws:u-1"
            assert msg["data"] == b'{"status":"done"}'
        assert _next_message(other, timeout=0.2) is None
    finally:
        for sub in (a, b, other):
            sub.close()


def test_bytes_payload_is_binary_safe(client, redis_port):
    sub = _subscribe(redis_port, "bin")
    try:
        payload = b"\x00a\r\n\xff\x00" + bytes(range(256))
        assert wsgate_publish.publish_user_notification(client, "bin", payload) == 1
        assert _next_message(sub)["data"] == payload
    finally:
        sub.close()


def test_str_payload_is_sent_as_utf8(client, redis_port):
    sub = _subscribe(redis_port, "text")
    try:
        assert wsgate_publish.publish_user_notification(client, "text", "grüße ✓") == 1
        assert _next_message(sub)["data"] == "grüße ✓".encode()
    finally:
        sub.close()


def test_async_client(redis_port):
    sub = _subscribe(redis_port, "async")

    async def publish() -> int:
        r = redis.asyncio.Redis(host="127.0.0.1", port=redis_port, socket_timeout=5)
        try:
            return await wsgate_publish.apublish_user_notification(r, "async", b"from asyncio")
        finally:
            await r.close()

    try:
        assert asyncio.run(publish()) == 1
        assert _next_message(sub)["data"] == b"from asyncio"
    finally:
        sub.close()


@pytest.mark.parametrize("user_id, error", [("", ValueError), (b"u", TypeError), (42, TypeError)])
def test_bad_user_id_is_rejected(client, user_id, error):
    with pytest.raises(error):
        wsgate_publish.publish_user_notification(client, user_id, "x")


@pytest.mark.parametrize("payload", [42, 1.5, None, {"a": 1}])
def test_non_text_payload_is_rejected(client, payload):
    with pytest.raises(TypeError):
        wsgate_publish.publish_user_notification(client, "u", payload)


# --- Redis Cluster: SPUBLISH through redis.cluster.RedisCluster ------------------------------

@pytest.fixture
def cluster_ports(tmp_path):
    """A 3-master Redis Cluster (no replicas) on free loopback ports, each node with an
    explicit --cluster-port; yields the client ports."""
    binary = _redis_server_binary()
    cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    procs, ports = [], []
    try:
        for _ in range(3):
            port, bus = _free_port(), _free_port()
            procs.append(subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                 "no", "--cluster-enabled", "yes", "--cluster-port", str(bus),
                 "--cluster-config-file", str(tmp_path / f"nodes-{port}.conf"),
                 "--cluster-node-timeout", "2000", "--dir", str(tmp_path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            ports.append(port)
        for port in ports:
            c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
            deadline = time.monotonic() + 10
            while True:
                try:
                    c.ping()
                    break
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"cluster node on port {port} did not answer PING")
                    time.sleep(0.02)
        out = subprocess.run([cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
                              "--cluster-replicas", "0", "--cluster-yes"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr
        deadline = time.monotonic() + 20
        while not all(b"cluster_state:ok" in redis.Redis(port=p).execute_command("CLUSTER", "INFO")
                      for p in ports):
            assert time.monotonic() < deadline, "cluster never reached cluster_state:ok"
            time.sleep(0.05)
        yield ports
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _owner_port(ports, channel: str) -> int:
    slot = redis.Redis(port=ports[0]).execute_command("CLUSTER", "KEYSLOT", channel)
    for start, end, master, *_ in redis.Redis(port=ports[0]).execute_command("CLUSTER", "SLOTS"):
        if start <= slot <= end:
            return int(master[1])
    raise AssertionError(f"no owner for slot {slot}")


def _ssubscribe(port: int, channel: str):
    sub = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5).pubsub()
    sub.execute_command("SSUBSCRIBE", channel)
    ack = sub.parse_response(timeout=5)
    assert ack is not None and ack[0] == b"ssubscribe", ack
    return sub


def _next_smessage(sub, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = sub.parse_response(timeout=max(0.0, deadline - time.monotonic()))
        if msg is not None and msg[0] == b"smessage":
            return msg[2]
    return None


def test_cluster_client_spublishes_to_the_slot_owner_and_follows_moved(cluster_ports):
    from redis.cluster import ClusterNode, RedisCluster

    rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", cluster_ports[0])])
    # One user per master.
    users = {}
    for i in range(200):
        u = f"user-{i}"
        users.setdefault(_owner_port(cluster_ports, "ws:" + u), u)
        if len(users) == 3:
            break
    assert len(users) == 3
    subs = {u: _ssubscribe(port, "ws:" + u) for port, u in users.items()}
    try:
        for u, sub in subs.items():
            assert wsgate_publish.publish_user_notification(rc, u, f"to {u}") == 1
            assert _next_smessage(sub) == f"to {u}".encode()

        # Move one user's slot to another master: the client's cached map is now stale, so
        # its SPUBLISH gets MOVED, and the helper reloads the map and publishes again.
        src, user = next(iter(users.items()))
        dst = next(p for p in cluster_ports if p != src)
        slot = redis.Redis(port=src).execute_command("CLUSTER", "KEYSLOT", "ws:" + user)
        ids = {p: redis.Redis(port=p).execute_command("CLUSTER", "MYID").decode()
               for p in cluster_ports}
        redis.Redis(port=dst).execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[src])
        redis.Redis(port=src).execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[dst])
        for p in [dst, src] + [p for p in cluster_ports if p not in (src, dst)]:
            redis.Redis(port=p).execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[dst])
        moved = _ssubscribe(dst, "ws:" + user)
        try:
            assert wsgate_publish.publish_user_notification(rc, user, b"after\x00move") == 1
            assert _next_smessage(moved) == b"after\x00move"
        finally:
            moved.close()
    finally:
        for sub in subs.values():
            sub.close()
        rc.close()


def _start_and_ping(args, port: int):
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            c.ping()
            return proc
        except redis.exceptions.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                pytest.fail(f"{args[0]} on port {port} did not answer PING")
            time.sleep(0.02)
        finally:
            c.close()


@pytest.fixture
def sentinel_ports(redis_port, tmp_path):
    """The redis_port master, one replica and one sentinel (quorum 1) monitoring them as
    "wsgate-master"; yields (master, replica, sentinel) ports once the sentinel knows the
    replica, so SENTINEL FAILOVER can promote it."""
    binary = _redis_server_binary()
    procs = []
    try:
        replica = _free_port()
        procs.append(_start_and_ping(
            [binary, "--port", str(replica), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp_path), "--replicaof", "127.0.0.1", str(redis_port)], replica))
        sentinel = _free_port()
        conf = tmp_path / "sentinel.conf"  # writable: Sentinel rewrites its config file
        conf.write_text(
            f"port {sentinel}\nbind 127.0.0.1\nprotected-mode no\ndir {tmp_path}\n"
            f"sentinel monitor wsgate-master 127.0.0.1 {redis_port} 1\n"
            "sentinel down-after-milliseconds wsgate-master 1000\n"
            "sentinel failover-timeout wsgate-master 5000\n")
        procs.append(_start_and_ping([binary, str(conf), "--sentinel"], sentinel))
        s = redis.Redis(host="127.0.0.1", port=sentinel, socket_timeout=2)
        deadline = time.monotonic() + 15
        while not s.sentinel_slaves("wsgate-master"):
            assert time.monotonic() < deadline, "the sentinel never found the replica"
            time.sleep(0.05)
        s.close()
        yield redis_port, replica, sentinel
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_sentinel_master_for_publishes_on_the_current_master(sentinel_ports):
    from redis.sentinel import Sentinel

    master, replica, sentinel_port = sentinel_ports
    sentinel = Sentinel([("127.0.0.1", sentinel_port)], socket_timeout=2)
    client = sentinel.master_for("wsgate-master", socket_timeout=2)
    sub = _subscribe(master, "alice")
    try:
        assert wsgate_publish.publish_user_notification(client, "alice", "via sentinel") == 1
        assert _next_message(sub)["data"] == b"via sentinel"
    finally:
        sub.close()

    # A forced failover promotes the replica.
    # Until the sentinel has read the replica's own INFO it answers NOGOODSLAVE: retry.
    deadline = time.monotonic() + 15
    while True:
        try:
            redis.Redis(host="127.0.0.1", port=sentinel_port).execute_command(
                "SENTINEL", "FAILOVER", "wsgate-master")
            break
        except redis.exceptions.ResponseError as e:
            assert "NOGOODSLAVE" in str(e) and time.monotonic() < deadline, str(e)
            time.sleep(0.1)
    while sentinel.discover_master("wsgate-master")[1] != replica or \
            redis.Redis(port=replica).role()[0] != b"master":
        assert time.monotonic() < deadline, "no failover to the replica"
        time.sleep(0.05)
    sub = _subscribe(replica, "alice")
    try:
        # The client's pooled connection still goes to the old master, which accepts the
        # PUBLISH with 0 receivers; the helper notices the move and publishes again.
        assert wsgate_publish.publish_user_notification(client, "alice", "after failover") == 1
        got = _next_message(sub)
        assert got is not None and got["data"] == b"after failover"
    finally:
        sub.close()
        client.close()
