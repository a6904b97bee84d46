"""A model hub on localhost: serves folders as hub repositories at the hub's file URLs
(``/{repo}/resolve/main/{file}``), a chunk at a time so that a download takes a moment, and
counts the files it sent. Point ``HF_ENDPOINT`` at :attr:`FakeHub.url`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHUNK = 32 * 1024


@dataclass
class FakeHub:
    url: str
    sent: list[str] = field(default_factory=list)
    """The path of every file served by GET."""


@contextmanager
def fake_hub(repos: Mapping[str, Path], *, pause: float = 0.01) -> Iterator[FakeHub]:
    """Serve each ``repos[name]`` folder as hub repository ``name`` until the block ends."""
    hub = FakeHub("")

    class Handler(BaseHTTPRequestHandler):
        def _file(self) -> Path | None:
            for repo, folder in repos.items():
                prefix = f"/{repo}/resolve/main/"
                if self.path.startswith(prefix):
                    path = folder / self.path[len(prefix) :]
                    return path if path.is_file() else None
            return None

        def _head(self) -> Path | None:
            path = self._file()
            if self.path == "/":
                self.send_response(200)
                self.send_header("Content-Length", "0")
            elif path is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
            else:
                self.send_response(200)
                self.send_header("Content-Length", str(path.stat().st_size))
                self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            return path

        def do_HEAD(self) -> None:  # noqa: N802 (the handler's naming)
            self._head()

        def do_GET(self) -> None:  # noqa: N802
            path = self._head()
            if path is None:
                return
            hub.sent.append(self.path)
            data = path.read_bytes()
            for start in range(0, len(data), CHUNK):
                self.wfile.write(data[start : start + CHUNK])
                time.sleep(pause)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
