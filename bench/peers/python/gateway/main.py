"""FastAPI application: the status WebSocket route, and the Redis pool closed on shutdown."""
from fastapi import FastAPI

from . import redis_client
from .websocket_routes import router

app = FastAPI()
app.include_router(router)


@app.on_event("shutdown")
async def close_redis() -> None:
    await redis_client.redis_client.close()
