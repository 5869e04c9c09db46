"""The process-wide Redis client and the channel naming shared with publishers.

One connection pool for the process; every PubSub object takes its own connection from it
(a subscribed connection cannot run other commands), so each WebSocket holds one Redis
connection while it is open, and gives it back to the pool when it closes.
"""
import os

import redis.asyncio as redis

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")

redis_client = redis.Redis.from_url(REDIS_URL)


def channel_for_user(user_id: str) -> str:
    return f"ws:{user_id}"


async def subscribe(user_id: str) -> redis.client.PubSub:
    """Return a PubSub subscribed to the user's channel (the SUBSCRIBE has been sent)."""
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel_for_user(user_id))
    return pubsub


async def publish_user_notification(user_id: str, payload: str) -> int:
    """Publish `payload` to the user's channel; returns the number of receivers."""
    return await redis_client.publish(channel_for_user(user_id), payload)
