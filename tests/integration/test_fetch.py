"""The URL fetcher against a real HTTP server on 127.0.0.1.

Every Fetcher here sends through ``LoopbackOnly``, a transport that forwards requests for
127.0.0.1 to the real httpx transport and refuses anything else, so these tests never send a
packet to another address even if the address check were broken.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from PIL import Image

from lookalike.config import Settings
from lookalike.errors import (
    FetchError,
    ForbiddenAddress,
    ImageTooLarge,
    LookalikeError,
    UnsupportedFormat,
)
from lookalike.fetch import Fetcher
from tests.support.encoded import encode

PNG = encode(Image.new("RGB", (8, 8), (0, 120, 255)), "PNG")


@dataclass
class Seen:
    path: str
    host: str


@dataclass
class ServerState:
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.hits.clear()
            self.in_flight = self.max_in_flight = 0

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


class Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        state: ServerState = self.server.state
        path = self.path.split("?")[0]
        with state.lock:
            state.requests.append(Seen(self.path, self.headers.get("Host", "")))
            state.hits[path] = state.hits.get(path, 0) + 1
            hit = state.hits[path]
        try:
            self.route(path, hit, state)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def reply(
        self, status: int, body: bytes = b"", content_type: str | None = None, **headers: str
    ) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route(self, path: str, hit: int, state: ServerState) -> None:
        port = state.port
        if path in ("/image.png", "/host"):
            self.reply(200, PNG, "image/png")
        elif path == "/octet":
            self.reply(200, PNG, "application/octet-stream")
        elif path == "/no-type":
            self.reply(200, PNG)
        elif path == "/octet-text":
            self.reply(200, b"just some text, not an image", "application/octet-stream")
        elif path == "/page.html":
            self.reply(200, b"<html><body>hi</body></html>", "text/html; charset=utf-8")
        elif path == "/data.json":
            self.reply(200, b'{"a": 1}', "application/json")
        elif path == "/redirect":
            self.reply(302, Location="/image.png")
        elif path == "/redirect-absolute":
            self.reply(301, Location=f"http://127.0.0.1:{port}/redirect")
        elif path == "/loop":
            self.reply(302, Location="/loop")
        elif path == "/to-private":
            self.reply(302, Location="http://10.0.0.1/secret.png")
        elif path == "/to-metadata":
            self.reply(307, Location="http://169.254.169.254/latest/meta-data/")
        elif path == "/to-file":
            self.reply(302, Location="file:///etc/passwd")
        elif path == "/flaky":
            if hit == 1:
                self.reply(429, b"slow down", "text/plain", Retry_After="0")
            else:
                self.reply(200, PNG, "image/png")
        elif path == "/retry-after":
            if hit == 1:
                self.reply(429, b"slow down", "text/plain", Retry_After="30")
            else:
                self.reply(200, PNG, "image/png")
        elif path == "/unavailable":
            self.reply(503, b"down", "text/plain")
        elif path == "/missing":
            self.reply(404, b"not here", "text/plain")
        elif path == "/slow":
            state.stop.wait(3.0)
            self.reply(200, PNG, "image/png")
        elif path == "/slowish":
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            state.stop.wait(0.2)
            with state.lock:
                state.in_flight -= 1
            self.reply(200, PNG, "image/png")
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            for i in range(len(PNG)):
                if state.stop.wait(0.15):
                    return
                self.wfile.write(PNG[i : i + 1])
                self.wfile.flush()
        elif path == "/huge-declared":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(10**10))
            self.end_headers()
            self.wfile.write(PNG)  # never the 10 GB it announced
        elif path == "/huge-undeclared":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()  # HTTP/1.0, no length: the body ends when the connection closes
            self.wfile.write(PNG + b"\0" * 50_000)
        else:
            self.reply(404)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@pytest.fixture(scope="module")
def running_server() -> Iterator[ServerState]:
    server = QuietServer(("127.0.0.1", 0), Handler)
    state = ServerState(port=server.server_address[1])
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(running_server: ServerState) -> ServerState:
    running_server.reset()
    return running_server


class LoopbackOnly(httpx.BaseTransport):
    """Forwards requests for 127.0.0.1; records and refuses every other destination."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.refused: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "127.0.0.1":
            self.refused.append(request)
            raise httpx.ConnectError("test guard: not loopback", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Made:
    fetcher: Fetcher
    guard: LoopbackOnly


MakeFetcher = Callable[..., Made]


@pytest.fixture
def make(tmp_path: Any) -> Iterator[MakeFetcher]:
    made: list[Fetcher] = []

    def build(
        *,
        allow_private_urls: bool = True,
        fetch_timeout: float = 2.0,
        fetch_retries: int = 2,
        max_image_bytes: int = 1_000_000,
        fetch_concurrency: int = 4,
        **kwargs: Any,
    ) -> Made:
        settings = Settings(
            data_dir=tmp_path,
            allow_private_urls=allow_private_urls,
            fetch_timeout=fetch_timeout,
            fetch_retries=fetch_retries,
            max_image_bytes=max_image_bytes,
            fetch_concurrency=fetch_concurrency,
        )
        guard = LoopbackOnly()
        kwargs.setdefault("backoff_base", 0.01)
        fetcher = Fetcher(settings, transport=guard, **kwargs)
        made.append(fetcher)
        return Made(fetcher, guard)

    yield build
    for fetcher in made:
        fetcher.close()


def url(server: ServerState, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


# -- the happy paths ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/image.png", "/octet", "/no-type"])
def test_fetches_image_bytes(server: ServerState, make: MakeFetcher, path: str) -> None:
    assert make().fetcher.fetch(url(server, path)) == PNG
    assert server.paths() == [path]


def test_follows_redirects_checking_each_hop(server: ServerState, make: MakeFetcher) -> None:
    assert make().fetcher.fetch(url(server, "/redirect-absolute")) == PNG
    assert server.paths() == ["/redirect-absolute", "/redirect", "/image.png"]


def test_redirect_loop_stops_after_five_hops(server: ServerState, make: MakeFetcher) -> None:
    with pytest.raises(FetchError, match="redirects"):
        make().fetcher.fetch(url(server, "/loop"))
    assert server.paths() == ["/loop"] * 6


def test_connects_to_the_checked_address_and_sends_the_original_host(
    server: ServerState, make: MakeFetcher
) -> None:
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    fetcher = make(resolve=resolve).fetcher
    assert fetcher.fetch(f"http://images.example.test:{server.port}/host") == PNG
    assert asked == [("images.example.test", server.port)]
    assert server.requests == [Seen("/host", f"images.example.test:{server.port}")]


def test_https_pins_the_address_and_sets_sni(make: MakeFetcher) -> None:
    made = make(allow_private_urls=False, fetch_retries=0, resolve=lambda h, p: ["93.184.216.34"])
    with pytest.raises(FetchError, match="cannot connect") as info:
        made.fetcher.fetch("https://images.example.test/a.jpg?x=1")
    assert not isinstance(info.value, ForbiddenAddress)
    [request] = made.guard.refused  # stopped by the test guard: no packet left this machine
    assert str(request.url) == "https://93.184.216.34/a.jpg?x=1"
    assert request.headers["Host"] == "images.example.test"
    assert request.extensions["sni_hostname"] == "images.example.test"


# -- address checks -----------------------------------------------------------------------------


def test_loopback_refused_without_reaching_the_server(
    server: ServerState, make: MakeFetcher
) -> None:
    made = make(allow_private_urls=False)
    for target in (url(server, "/image.png"), f"http://localhost:{server.port}/image.png"):
        with pytest.raises(ForbiddenAddress, match="loopback"):
            made.fetcher.fetch(target)
    assert server.requests == []
    assert made.guard.refused == []


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/",
        "http://192.168.1.1/a.jpg",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",
        "http://240.0.0.1/",
        "http://2130706433/",
        "https://[::1]/",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[ff02::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a00:1]/",
        "http://[2002:a00:1::]/",
    ],
)
def test_non_public_addresses_refused_before_connecting(make: MakeFetcher, target: str) -> None:
    made = make(allow_private_urls=False, fetch_timeout=0.05, fetch_retries=0)
    with pytest.raises(ForbiddenAddress) as info:
        made.fetcher.fetch(target)
    assert target in info.value.message
    assert made.guard.refused == []


def test_the_refusal_reads_as_english(make: MakeFetcher) -> None:
    made = make(allow_private_urls=False, fetch_timeout=0.05, fetch_retries=0)
    with pytest.raises(ForbiddenAddress, match=r": 0\.0\.0\.0 is an unspecified address$"):
        made.fetcher.fetch("http://0.0.0.0/")
    with pytest.raises(ForbiddenAddress, match=r": \[?::1\]? is a loopback address$"):
        made.fetcher.fetch("http://[::1]/")
    with pytest.raises(ForbiddenAddress, match=r"a private address"):
        made.fetcher.fetch("http://10.0.0.1/")


def test_every_resolved_address_is_checked(make: MakeFetcher) -> None:
    made = make(allow_private_urls=False, resolve=lambda h, p: ["93.184.216.34", "10.1.2.3"])
    with pytest.raises(
        ForbiddenAddress, match=r"mixed\.example\.test is 10\.1\.2\.3, a private address$"
    ):
        made.fetcher.fetch("http://mixed.example.test/a.jpg")
    assert made.guard.refused == []


@pytest.mark.parametrize("path", ["/to-private", "/to-metadata"])
def test_redirect_to_forbidden_address_refused(
    server: ServerState, make: MakeFetcher, path: str
) -> None:
    made = make(allow_private_urls=False, allowed_networks=["127.0.0.0/8"])
    with pytest.raises(ForbiddenAddress, match="redirected from") as info:
        made.fetcher.fetch(url(server, path))
    assert url(server, path) in info.value.message
    assert server.paths() == [path]
    assert made.guard.refused == []


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/a.jpg", "file:///etc/passwd", "a.jpg"])
def test_only_http_and_https(make: MakeFetcher, target: str) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        make().fetcher.fetch(target)


def test_redirect_to_another_scheme_refused(server: ServerState, make: MakeFetcher) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        make().fetcher.fetch(url(server, "/to-file"))


# -- content checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/page.html", "text/html"),
        ("/data.json", "application/json"),
        ("/octet-text", "application/octet-stream"),
    ],
)
def test_non_images_refused(server: ServerState, make: MakeFetcher, path: str, shown: str) -> None:
    with pytest.raises(UnsupportedFormat) as info:
        make().fetcher.fetch(url(server, path))
    assert shown in info.value.message
    assert url(server, path) in info.value.message


@pytest.mark.parametrize("path", ["/huge-declared", "/huge-undeclared"])
def test_size_cap(server: ServerState, make: MakeFetcher, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(ImageTooLarge, match="10000"):
        make(max_image_bytes=10_000, fetch_timeout=1.0).fetcher.fetch(url(server, path))
    assert time.monotonic() - started < 0.9  # /huge-declared: refused before reading the body


# -- retries and time-outs ----------------------------------------------------------------------


def test_429_then_200_is_retried(server: ServerState, make: MakeFetcher) -> None:
    assert make(fetch_retries=2).fetcher.fetch(url(server, "/flaky")) == PNG
    assert server.paths() == ["/flaky", "/flaky"]


def test_429_without_retries_fails(server: ServerState, make: MakeFetcher) -> None:
    with pytest.raises(FetchError, match="429"):
        make(fetch_retries=0).fetcher.fetch(url(server, "/flaky"))


def test_retry_after_is_honoured_up_to_the_cap(server: ServerState, make: MakeFetcher) -> None:
    fetcher = make(fetch_retries=1, max_retry_after=0.3).fetcher
    started = time.monotonic()
    assert fetcher.fetch(url(server, "/retry-after")) == PNG
    assert 0.28 <= time.monotonic() - started < 2.0


def test_503_forever_gives_up_after_the_retries(server: ServerState, make: MakeFetcher) -> None:
    with pytest.raises(FetchError, match="HTTP 503 .after 3 attempts") as info:
        make(fetch_retries=2).fetcher.fetch(url(server, "/unavailable"))
    assert url(server, "/unavailable") in info.value.message
    assert server.paths() == ["/unavailable"] * 3


def test_404_fails_at_once(server: ServerState, make: MakeFetcher) -> None:
    with pytest.raises(FetchError, match="HTTP 404") as info:
        make(fetch_retries=3).fetcher.fetch(url(server, "/missing"))
    assert not isinstance(info.value, (ForbiddenAddress, UnsupportedFormat))
    assert server.paths() == ["/missing"]


def test_slow_server_times_out(server: ServerState, make: MakeFetcher) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        make(fetch_timeout=0.3, fetch_retries=0).fetcher.fetch(url(server, "/slow"))
    assert time.monotonic() - started < 1.5


def test_trickling_body_hits_the_overall_deadline(server: ServerState, make: MakeFetcher) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        make(fetch_timeout=0.5, fetch_retries=0, deadline=0.6).fetcher.fetch(url(server, "/drip"))
    assert time.monotonic() - started < 1.5


# -- many at once -------------------------------------------------------------------------------


def test_fetch_many_gives_each_url_its_own_outcome(server: ServerState, make: MakeFetcher) -> None:
    made = make(allow_private_urls=False, allowed_networks=["127.0.0.1/32"], fetch_retries=1)
    urls = [
        url(server, "/image.png"),
        url(server, "/page.html"),
        url(server, "/missing"),
        url(server, "/redirect"),
        url(server, "/to-private"),
        "http://10.0.0.1/a.jpg",
        "gopher://127.0.0.1/",
        url(server, "/octet"),
    ]

    results: dict[str, bytes | LookalikeError] = dict(made.fetcher.fetch_many(urls))

    assert set(results) == set(urls)
    assert results[urls[0]] == PNG
    assert isinstance(results[urls[1]], UnsupportedFormat)
    assert isinstance(results[urls[2]], FetchError)
    assert results[urls[3]] == PNG
    assert isinstance(results[urls[4]], ForbiddenAddress)
    assert isinstance(results[urls[5]], ForbiddenAddress)
    assert isinstance(results[urls[6]], FetchError)
    assert results[urls[7]] == PNG
    assert made.guard.refused == []


def test_fetch_many_bounds_concurrency(server: ServerState, make: MakeFetcher) -> None:
    fetcher = make(fetch_concurrency=2).fetcher
    urls = [url(server, f"/slowish?n={i}") for i in range(6)]

    results = list(fetcher.fetch_many(urls))

    assert sorted(u for u, _ in results) == sorted(urls)
    assert all(body == PNG for _, body in results)
    assert server.max_in_flight == 2
