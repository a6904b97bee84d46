"""Content types a route accepts, checked before its body is parsed."""

from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException


def json_body(request: Request) -> None:
    """Route dependency: a body sent as anything but JSON is a 415, not a confusing 422 (no
    Content-Type at all is read as JSON)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise HTTPException(
            415, f"send the body as JSON (Content-Type: application/json), not {media}"
        )
