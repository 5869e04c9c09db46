"""Publish wsgate notifications from Python backends that use redis-py.

The gateway subscribes each online user's channel and forwards every message to all of
that user's WebSocket sessions; this module only knows the channel naming contract.
Works with ``redis.Redis`` (sync) and, through ``apublish_user_notification``, with
``redis.asyncio.Redis``.

Redis Cluster (the gateway runs with ``--redis-mode cluster`` and subscribes with sharded
Pub/Sub): pass a ``redis.cluster.RedisCluster`` and the notification goes out as
``SPUBLISH`` to the master that owns the channel's slot. redis-py 4.3 has no ``spublish()``
and cannot route SPUBLISH by itself ("Missing key"), so this module routes it with the
client's slot cache and follows ``MOVED`` (re-reading the slot map) and ``ASK``.

Redis with Sentinel (the gateway runs with a ``redis+sentinel://`` URL): pass the client
from ``redis.sentinel.Sentinel([(host, port), ...]).master_for("mymaster", password=...)``.
redis-py resolves the master through the sentinels and reconnects after connection errors,
but a pooled connection to the *old* master survives a failover, and an old master still
accepts PUBLISH (answering 0 receivers, since no gateway listens there any more). So when
such a client's PUBLISH reaches nobody, this module asks the sentinels whether the master
moved (``SentinelConnectionPool.get_master_address()``, which also drops the stale idle
connections) and, if it did, publishes once more on the new master.
"""

from __future__ import annotations

from typing import Optional, Union
from urllib.parse import quote

__all__ = ["CHANNEL_PREFIX", "ISSUER_CHANNEL_PREFIX", "channel_for_user", "publish_user_notification", "apublish_user_notification"]

# Must match src/redis/channel.hpp. The gateway subscribes "ws:{user_id}" for users of its
# primary issuer (--jwt-issuer) and "ws@{issuer, percent-encoded}:{user_id}" for the users of
# any other issuer, so that equal user ids of two issuers never share a channel.
CHANNEL_PREFIX = "ws:"
ISSUER_CHANNEL_PREFIX = "ws@"

Payload = Union[str, bytes, bytearray, memoryview]


def channel_for_user(user_id: str, issuer: Optional[str] = None) -> str:
    """The Redis channel that carries notifications for ``user_id``.

    ``issuer``: the ``iss`` of the user's tokens when it is not the gateway's primary issuer
    (``--jwt-issuer``); None or "" for the primary issuer.
    """
    if not isinstance(user_id, str):
        raise TypeError(f"user_id must be str, not {type(user_id).__name__}")
    if not user_id:
        raise ValueError("user_id must not be empty")
    if issuer is None or issuer == "":
        return CHANNEL_PREFIX + user_id
    if not isinstance(issuer, str):
        raise TypeError(f"issuer must be str, not {type(issuer).__name__}")
    # Every byte but A-Z a-z 0-9 - . _ ~ as %XX (upper case), like the gateway.
    return ISSUER_CHANNEL_PREFIX + quote(issuer, safe="") + ":" + user_id


def _check_payload(payload: Payload) -> Payload:
    # redis-py would silently send str(payload) for ints, floats and other objects;
    # a notification is text or bytes, so anything else is a caller bug.
    if not isinstance(payload, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"payload must be str or bytes, not {type(payload).__name__}")
    return payload


def publish_user_notification(redis, user_id: str, payload: Payload, issuer: Optional[str] = None) -> int:
    """PUBLISH ``payload`` to ``user_id``'s channel with a sync ``redis.Redis``, or SPUBLISH
    it on the slot's master with a ``redis.cluster.RedisCluster``.

    Returns the number of subscribers that received it: one per gateway shard holding a
    session of this user, so 0 means the user is not online (Pub/Sub does not store it).
    Bytes are sent as they are; str is encoded by the client (UTF-8 by default).
    ``issuer`` selects another issuer's user (see :func:`channel_for_user`).
    """
    channel = channel_for_user(user_id, issuer)
    payload = _check_payload(payload)
    if _is_cluster(redis):
        return _spublish(redis, channel, payload)
    receivers = int(redis.publish(channel, payload))
    if receivers == 0 and _sentinel_master_moved(redis):
        receivers = int(redis.publish(channel, payload))
    return receivers


def _sentinel_master_moved(client) -> bool:
    """For a ``Sentinel.master_for()`` client: whether the sentinels now name another
    master than the pool's connections use (the stale idle ones are dropped then)."""
    try:
        from redis.sentinel import SentinelConnectionPool
    except ImportError:
        return False
    pool = getattr(client, "connection_pool", None)
    if not isinstance(pool, SentinelConnectionPool) or not pool.is_master:
        return False
    before = pool.master_address
    return pool.get_master_address() != before


def _is_cluster(client) -> bool:
    try:
        from redis.cluster import RedisCluster
    except ImportError:  # redis-py before 4.1 has no cluster client
        return False
    return isinstance(client, RedisCluster)


# MOVED and ASK together; each MOVED re-reads the slot map, so a few are plenty.
_MAX_REDIRECTS = 5


def _spublish(cluster, channel: str, payload: Payload) -> int:
    from redis.exceptions import AskError, MovedError

    node = cluster.get_node_from_key(channel)
    asking = False
    for _ in range(_MAX_REDIRECTS):
        conn = cluster.get_redis_connection(node)
        try:
            if asking:
                # ASKING and SPUBLISH must share one connection: a pipeline holds one.
                with conn.pipeline(transaction=False) as pipe:
                    pipe.execute_command("ASKING")
                    pipe.execute_command("SPUBLISH", channel, payload)
                    return int(pipe.execute()[1])
            return int(conn.execute_command("SPUBLISH", channel, payload))
        except MovedError:
            # The slot has a new owner for good (migration, failover): reload the map.
            cluster.nodes_manager.initialize()
            node = cluster.get_node_from_key(channel)
            asking = False
        except AskError as e:
            # A migration in progress: this once on the importing node.
            node = cluster.get_node(host=e.host, port=e.port) or _add_node(cluster, e.host, e.port)
            asking = True
    raise RuntimeError(f"SPUBLISH to {channel!r}: too many cluster redirects")


def _add_node(cluster, host: str, port: int):
    from redis.cluster import ClusterNode

    node = ClusterNode(host, port)
    cluster.nodes_manager.nodes_cache[node.name] = node
    return node


async def apublish_user_notification(
    redis, user_id: str, payload: Payload, issuer: Optional[str] = None
) -> int:
    """Like :func:`publish_user_notification`, for ``redis.asyncio.Redis``."""
    return int(await redis.publish(channel_for_user(user_id, issuer), _check_payload(payload)))
