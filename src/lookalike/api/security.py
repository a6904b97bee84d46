"""API keys: ``X-API-Key``, ``Authorization: Bearer KEY`` or ``Authorization: Token KEY`` (the
form the Ximilar-style clients send), compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import Request
from starlette.exceptions import HTTPException

from lookalike.api.state import get_state

OPEN_PATHS = frozenset({"/health", "/", "/favicon.ico"})
"""Reachable without a key: the liveness probe and the page shell (the page asks for a key)."""


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    # "JWT": the Ximilar client's scheme for tokens of 70 characters or more
    if scheme.lower() in ("bearer", "token", "jwt") and value.strip():
        return value.strip()
    return None


def key_is_valid(key: str | None, keys: tuple[str, ...]) -> bool:
    if key is None:
        return False
    given = key.encode()
    ok = False
    for k in keys:  # every key is compared, so the time does not tell which one nearly matched
        ok |= hmac.compare_digest(given, k.encode())
    return ok


def require_key(request: Request) -> None:
    """Router dependency: with keys configured, every route but OPEN_PATHS needs one."""
    keys = get_state(request).settings.api_keys
    if not keys or request.url.path in OPEN_PATHS or request.url.path.startswith("/static/"):
        return
    key = presented_key(request)
    if key is None:
        raise HTTPException(
            401,
            "an API key is needed (X-API-Key or Authorization: Bearer)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not key_is_valid(key, keys):
        raise HTTPException(403, "the API key is not valid")
