"""The server process under stress of another kind: query images behind a stalled URL hold none
of the threads that answer other requests, and a ``SIGTERM`` leaves no ``server.json`` behind."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from fastapi.testclient import TestClient

from lookalike.api import create_app
from lookalike.config import Settings
from tests.support.server import free_port, live_server

FETCH_TIMEOUT = 5.0
"""The server's ``fetch_timeout``: longer than the 1.5 s wait before the checks plus the 3 s
allowed to ``GET /collections``, so that no search can have given up before they are made."""
STALL_SECONDS = FETCH_TIMEOUT + 1.0
"""How long the image host answers nothing: past the fetch timeout, so each fetch times out."""
XIMILAR = {"collection-id": "c"}
"""The Ximilar-style routes' collection header (the other routes ignore it)."""
STALLED_URL = "{stalled}"
STALLED = 45
"""More searches than the request thread pool has threads (40)."""


def _stalling_image(app: FastAPI) -> None:
    """An image host that answers nothing for a while (it waits without holding a thread)."""
    router = APIRouter()

    @router.get("/stalled.jpg")
    async def stalled() -> Response:
        await asyncio.sleep(STALL_SECONDS)
        return Response(b"", media_type="image/jpeg")

    app.include_router(router)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "query"),
    [  # the REST search and the compatibility routes' searches
        ("/collections/c/search", {"image_url": STALLED_URL}),
        ("/api/databases/c/search", {"image_url": STALLED_URL}),
        ("/similarity/photos/v2/visualKNN", {"query_record": {"_url": STALLED_URL}}),
    ],
)
def test_a_stalled_query_url_holds_no_thread_of_the_other_requests(
    server_settings: Settings, path: str, query: dict[str, Any]
) -> None:
    settings = server_settings.replace(
        allowed_networks=("127.0.0.0/8",), fetch_retries=0, fetch_timeout=FETCH_TIMEOUT
    )
    with live_server(settings, setup=_stalling_image) as url:
        client = httpx.Client(base_url=url, timeout=60)
        assert client.post("/collections", json={"name": "c", "signals": "duplicate"}).is_success
        body = json.loads(json.dumps(query).replace(STALLED_URL, f"{url}/stalled.jpg"))
        with ThreadPoolExecutor(STALLED) as pool:
            searches = [
                pool.submit(httpx.post, f"{url}{path}", json=body, headers=XIMILAR, timeout=60)
                for _ in range(STALLED)
            ]
            time.sleep(1.5)  # every search is waiting on its fetch by now
            assert not any(s.done() for s in searches)
            started = time.perf_counter()
            listed = client.get("/collections")
            took = time.perf_counter() - started
            # answered while every search still waits on its fetch, not once they gave up
            assert not any(s.done() for s in searches)
            answers = [s.result() for s in searches]
    assert listed.status_code == 200 and [c["name"] for c in listed.json()["collections"]] == ["c"]
    assert took < 3.0, f"GET /collections took {took:.2f} s behind stalled fetches"
    for answer in answers:  # each stalled fetch ends as that search's own error
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "fetch_failed"


def test_server_json_is_removed_after_sigterm(tmp_path: Path, tiny_model: Path) -> None:
    data = tmp_path / "data"
    env = {
        **os.environ,
        "LOOKALIKE_DATA_DIR": str(data),
        "LOOKALIKE_OFFLINE": "true",
        "LOOKALIKE_DEFAULT_MODEL": str(tiny_model),
    }
    port = free_port()
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "lookalike", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            marker = data / "server.json"
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the server did not start"
                try:
                    up = httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
                except httpx.TransportError:
                    up = False
                if up and marker.exists():
                    break
                time.sleep(0.1)
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    assert not marker.exists(), (tmp_path / "server.log").read_text()


def test_a_full_collection_leaves_out_what_the_server_made_before_serving(tmp_path: Path) -> None:
    """A full collection holds the interpreter lock while it walks every tracked object; the
    modules, classes and app made at startup live as long as the process, so it skips them."""
    settings = Settings(data_dir=tmp_path / "data", offline=True, default_signals=("duplicate",))
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        assert client.get("/health").status_code == 200
        frozen = gc.get_freeze_count()
        walked = len(gc.get_objects())  # what a full collection walks now
        assert frozen > 10_000 and walked < frozen
    assert gc.get_freeze_count() == 0  # given back at shutdown
