"""A real lookalike server on a free localhost port, run in a thread of the test process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import APIRouter, FastAPI

from lookalike.api import create_app
from lookalike.config import Settings


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


def probe_route(app: FastAPI) -> None:
    """A ``setup`` for :func:`live_server`: ``GET /probe``, a route of the API added after the
    app is built (the app's key check must cover it too)."""
    router = APIRouter()
    router.add_api_route("/probe", lambda: {"ok": True})
    app.include_router(router)
