"""A cap on request bodies, enforced before the body is read (and while it streams)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lookalike.api.errors import HTTPError, error_body
from lookalike.api.prefix import route_path


class _TooLarge(HTTPError):
    """A streamed body past the limit, found while a route reads it: an HTTP error, which the
    framework lets through to the error handlers (any other error there becomes its 400)."""

    def __init__(self, seen: int, limit: int) -> None:
        super().__init__(413, too_large_message(seen, limit), {"limit": limit})


def too_large_message(length: int, limit: int) -> str:
    return (
        f"request body of {length} bytes or more is over the limit of {limit} bytes "
        "(max_request_bytes)"
    )


class BodyLimit:
    """Pure ASGI middleware: 413 by Content-Length at once, or as soon as a chunked body
    passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, unlimited: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.unlimited = unlimited
        """Paths whose bodies stream to disk rather than memory (a backup to restore)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) in self.unlimited:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = 0
                if length > self.max_bytes:
                    await self._refuse(send, length)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(seen, self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:  # raised where no error handler answered it
            if not started:
                await self._refuse(send, seen)

    async def _refuse(self, send: Send, length: int) -> None:
        message = too_large_message(length, self.max_bytes)
        body = json.dumps(error_body("too_large", message, {"limit": self.max_bytes})).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
