"""Python peer of wsgate for the benchmark: FastAPI + uvicorn + redis.asyncio + PyJWT."""
