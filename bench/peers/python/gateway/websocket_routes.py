"""GET /ws/v1/status/{client_id}?token=JWT: push the user's Redis messages as text frames.

Per connection: authenticate, accept, subscribe to ws:{user_id} on a Redis connection of its
own, run a listener task that forwards each message, and read from the client until it goes;
then cancel the listener and release the subscription (the spec's design, section 4).
"""
import asyncio
import logging
from typing import Optional

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect, status
from redis.exceptions import RedisError

from . import auth
from . import redis_client

router = APIRouter()
log = logging.getLogger("gateway")


async def redis_listener(websocket: WebSocket, pubsub) -> None:
    """Forward every message on the subscribed channel to the client, payload unchanged."""
    try:
        async for message in pubsub.listen():
            if message["type"] == "message":
                await websocket.send_text(message["data"].decode("utf-8"))
    except RedisError as exc:
        # No recovery in this design: the client stays open and receives nothing more.
        log.error("redis listener stopped: %s", exc)


@router.websocket("/ws/v1/status/{client_id}")
async def websocket_status_endpoint(
    websocket: WebSocket,
    client_id: str,
    user_id: Optional[str] = Depends(auth.get_current_user_id),
):
    # Accept first so that the rejection is a visible close code, not a refused handshake.
    await websocket.accept()
    if user_id is None or client_id != user_id:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return

    try:
        pubsub = await redis_client.subscribe(user_id)
    except Exception as exc:  # Redis down: tell the client to come back later
        log.error("subscribe failed: %s", exc)
        await websocket.close(code=status.WS_1011_INTERNAL_ERROR)
        return

    listener_task = asyncio.create_task(redis_listener(websocket, pubsub))
    try:
        # Clients send nothing; reading is how a disconnect is noticed.
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        listener_task.cancel()
        try:
            await listener_task
        except asyncio.CancelledError:
            pass
        except Exception:
            pass  # a send raced with the client's disconnect: nothing to report
        try:
            await pubsub.unsubscribe()
        except Exception:
            pass  # the connection is gone; close() below still releases it
        await pubsub.close()
