"""JWT authentication for the WebSocket route (HS256, shared secret from the environment).

The algorithm list comes from configuration, never from the token's header, so a token signed
with "none" or an asymmetric algorithm is rejected.
"""
import os
from typing import Optional

import jwt
from fastapi import Query

JWT_SECRET = os.environ["JWT_SECRET"]
JWT_ALGORITHMS = ["HS256"]


def get_current_user_id(token: Optional[str] = Query(default=None)) -> Optional[str]:
    """Return the token's `sub`, or None when the token is missing or invalid.

    It returns None instead of raising because a WebSocket refused before the handshake
    shows up in a browser as a bare 1006: the route completes the handshake and closes with
    1008 so the client can tell "get a new token" from "the network failed". PyJWT checks
    `exp` when it is present.
    """
    if not token:
        return None
    try:
        claims = jwt.decode(token, JWT_SECRET, algorithms=JWT_ALGORITHMS)
    except jwt.PyJWTError:
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) and sub else None
