"""The server for tests: in this process through httpx's ASGI transport (no socket, no port),
or a real uvicorn server on a free localhost port for what needs a socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio.from_thread
import httpx
import uvicorn
from fastapi import APIRouter, FastAPI

from lookalike.api import create_app
from lookalike.config import Settings
from lookalike.engine import Engine

IN_PROCESS = "http://127.0.0.1:8000"
"""The base URL of an in-process app; no request to it leaves the process."""


class _Bridge(httpx.BaseTransport):
    """httpx's ASGI transport for a synchronous client: each request runs on one event loop in
    a thread, as uvicorn would run it, and the answer comes back whole."""

    def __init__(self, app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> None:
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the body as one stream that both httpx sides can read

        async def send() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            raw = b"".join([part async for part in response.stream])  # type: ignore[union-attr]
            return httpx.Response(
                response.status_code, headers=response.headers, stream=httpx.ByteStream(raw)
            )

        return self._portal.call(send)

    def close(self) -> None:
        """Nothing to release: the app lives as long as :func:`in_process`'s block."""


class ApiClient(httpx.Client):
    """An httpx client of an in-process app; ``app`` is the app, for what a test sets up."""

    def __init__(self, app: FastAPI, transport: _Bridge) -> None:
        super().__init__(transport=transport, base_url=IN_PROCESS, timeout=120)
        self.app = app
        self._bridge = transport

    def another(self) -> httpx.Client:
        """Another client of the same app (for an SDK client, which closes its own)."""
        return httpx.Client(transport=self._bridge, base_url=IN_PROCESS, timeout=120)

    def async_client(self) -> httpx.AsyncClient:
        """An async client of the same app, to be used inside an event loop of the test."""
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url=IN_PROCESS, timeout=120)


@contextmanager
def in_process(
    settings: Settings,
    *,
    setup: Callable[[FastAPI], None] | None = None,
    engine: Engine | None = None,
) -> Iterator[ApiClient]:
    """Serve ``settings`` in this process until the block ends, started and shut down as a
    real server is; yields a client of it. ``setup`` may add routes; ``engine`` is the app's
    (made from ``settings`` if not given), closed with it."""
    app = create_app(settings, engine=engine)
    if setup:
        setup(app)
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
        ApiClient(app, _Bridge(app, portal)) as client,
    ):
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(
    settings: Settings, *, setup: Callable[[FastAPI], None] | None = None
) -> Iterator[str]:
    """Serve ``settings`` until the block ends; yields the base URL. ``setup`` may add routes."""
    port = free_port()
    app = create_app(settings.replace(port=port))
    if setup:
        setup(app)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


WIRE_KEYS = ("wire-key", "k" * 80)
"""The API keys of the session's real server: a short one, and one long enough that some
clients send it as a JWT."""


@dataclass(frozen=True)
class Wire:
    """The session's real server: its base URL, settings and engine (to set a test up)."""

    url: str
    settings: Settings
    engine: Engine

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": WIRE_KEYS[0]}


def probe_route(app: FastAPI) -> None:
    """A ``setup`` for :func:`in_process` or :func:`live_server`: ``GET /probe``, a route of the
    API added after the app is built (the app's key check must cover it too)."""
    router = APIRouter()
    router.add_api_route("/probe", lambda: {"ok": True})
    app.include_router(router)
