"""Publish wsgate notifications from Python backends that use redis-py.

The gateway subscribes each online user's channel and forwards every message to all of
that user's WebSocket sessions; this module only knows the channel naming contract.
Works with ``redis.Redis`` (sync) and, through ``apublish_user_notification``, with
``redis.asyncio.Redis``.
"""

from __future__ import annotations

from typing import Union

__all__ = ["CHANNEL_PREFIX", "channel_for_user", "publish_user_notification", "apublish_user_notification"]

# Must match channel_prefix in src/redis/channel.hpp; the gateway subscribes "ws:{user_id}".
CHANNEL_PREFIX = "ws:"

Payload = Union[str, bytes, bytearray, memoryview]


def channel_for_user(user_id: str) -> str:
    """The Redis channel that carries notifications for ``user_id``."""
    if not isinstance(user_id, str):
        raise TypeError(f"user_id must be str, not {type(user_id).__name__}")
    if not user_id:
        raise ValueError("user_id must not be empty")
    return CHANNEL_PREFIX + user_id


def _check_payload(payload: Payload) -> Payload:
    # redis-py would silently send str(payload) for ints, floats and other objects;
    # a notification is text or bytes, so anything else is a caller bug.
    if not isinstance(payload, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"payload must be str or bytes, not {type(payload).__name__}")
    return payload


def publish_user_notification(redis, user_id: str, payload: Payload) -> int:
    """PUBLISH ``payload`` to ``user_id``'s channel with a sync ``redis.Redis``.

    Returns the number of subscribers that received it: one per gateway shard holding a
    session of this user, so 0 means the user is not online (Pub/Sub does not store it).
    Bytes are sent as they are; str is encoded by the client (UTF-8 by default).
    """
    return int(redis.publish(channel_for_user(user_id), _check_payload(payload)))


async def apublish_user_notification(redis, user_id: str, payload: Payload) -> int:
    """Like :func:`publish_user_notification`, for ``redis.asyncio.Redis``."""
    return int(await redis.publish(channel_for_user(user_id), _check_payload(payload)))
