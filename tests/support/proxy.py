"""A reverse proxy for tests: serves an upstream under a sub-path (``/lookalike/``), as nginx
or Caddy would, forwarding ``Host`` and adding ``X-Forwarded-For`` / ``-Proto``. ``strip``
chooses whether the upstream sees the prefix (nginx ``proxy_pass http://up/;``) or not."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from tests.support.server import free_port

_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"te", b"trailer"}


class PrefixProxy:
    """A pure ASGI app forwarding ``PREFIX/...`` to ``upstream``; anything else is a 404, and
    ``PREFIX`` alone is redirected to ``PREFIX/`` (nginx does the same for a location)."""

    def __init__(self, upstream: str, prefix: str, *, strip: bool) -> None:
        self.upstream = upstream
        self.prefix = prefix
        self.strip = strip
        self.seen: list[str] = []
        """The path of every request forwarded, as the upstream received it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1")
        if path == self.prefix:
            await _answer(send, 301, b"", [(b"location", (self.prefix + "/").encode())])
            return
        if not path.startswith(self.prefix + "/"):
            await _answer(send, 404, b"not proxied", [(b"content-type", b"text/plain")])
            return
        forwarded = path[len(self.prefix) :] if self.strip else path
        self.seen.append(forwarded)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP]
        client = scope.get("client") or ("127.0.0.1", 0)
        headers += [(b"x-forwarded-for", client[0].encode()), (b"x-forwarded-proto", b"http")]
        query = scope.get("query_string", b"")
        url = self.upstream + forwarded + ("?" + query.decode("latin-1") if query else "")
        async with (
            httpx.AsyncClient(timeout=300) as http,
            http.stream(scope["method"], url, headers=headers, content=body) as reply,
        ):
            out = [(k.lower(), v) for k, v in reply.headers.raw if k.lower() not in _HOP]
            await send({"type": "http.response.start", "status": reply.status_code, "headers": out})
            async for chunk in reply.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def prefix_proxy(upstream: str, prefix: str, *, strip: bool) -> Iterator[tuple[str, PrefixProxy]]:
    """Run a :class:`PrefixProxy` on a free port until the block ends; yields its base URL
    (without the prefix) and the proxy."""
    proxy = PrefixProxy(upstream, prefix, strip=strip)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(proxy, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the proxy did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", proxy
    finally:
        server.should_exit = True
        thread.join(timeout=30)
