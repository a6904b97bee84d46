"""Request ids and request logs: every response carries ``X-Request-ID`` (the client's, when it
sent a sane one, else a new one), every log line written while serving it carries the same id,
and each request is logged once: at info level, or at warning when slower than
``slow_request_ms``."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lookalike.logs import REQUEST_ID

HEADER = b"x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = logging.getLogger("lookalike.requests")


class RequestLog:
    def __init__(self, app: ASGIApp, *, slow_ms: int) -> None:
        self.app = app
        self.slow_ms = slow_ms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER, b"").decode("latin-1")
        request_id = given if _SANE.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        status = 500
        start = time.perf_counter()

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            ms = (time.perf_counter() - start) * 1000
            slow = self.slow_ms > 0 and ms >= self.slow_ms
            log.log(
                logging.WARNING if slow else logging.INFO,
                "%s %s %d %.1f ms%s",
                scope["method"],
                scope["path"],
                status,
                ms,
                " (slow)" if slow else "",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round(ms, 1),
                },
            )
            REQUEST_ID.reset(token)
