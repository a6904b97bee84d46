"""What a web page of another site can make a keyless server on localhost do: nothing. A request
naming a host the server does not answer to (DNS rebinding) is refused, and so is a write sent
by a page of another origin, whatever its content type; the CLI, the SDK and the server's own
page keep working."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.datastructures import Headers

from lookalike.api.security import trusted_host, trusted_origin
from lookalike.config import Settings
from tests.support.encoded import b64, image_bytes
from tests.support.server import in_process

EVIL = "http://evil.example"


@pytest.fixture
def served(server_settings: Settings) -> Iterator[httpx.Client]:
    settings = server_settings.replace(
        allowed_hosts=("search.example.com", ".intra.example"),
        cors_origins=("http://dashboard.example:3000",),
    )
    with in_process(settings) as client:
        assert client.post("/collections", json={"name": "c", "signals": "duplicate"}).is_success
        yield client


def _count(client: httpx.Client) -> int:
    return int(client.get("/collections/c/count").json()["count"])


def _jsonl(record_id: str) -> bytes:
    return json.dumps({"id": record_id, "base64": b64(image_bytes("coffee"))}).encode()


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "search.example.com.evil.example",
        "notintra.example",
    ],
)
def test_a_host_name_the_server_does_not_answer_to_is_refused(
    served: httpx.Client, host: str
) -> None:
    for method, path, kwargs in (
        ("GET", "/health", {}),
        ("GET", "/collections/c/records", {}),
        ("POST", "/collections/c/records", {"json": {"items": []}}),
    ):
        r = served.request(method, path, headers={"Host": host}, **kwargs)
        assert r.status_code == 400, (host, path, r.text)
        error = r.json()["error"]
        assert error["code"] == "untrusted_host" and "allowed_hosts" in error["message"]


def test_ip_addresses_localhost_names_and_allowed_hosts_are_answered(served: httpx.Client) -> None:
    port = urlsplit(str(served.base_url)).port
    for host in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        "LOCALHOST",
        "app.localhost",
        "[::1]:8000",
        "10.0.0.7",
        "search.example.com",
        "a.b.intra.example:443",
        "intra.example",
    ):
        r = served.get("/collections", headers={"Host": host})
        assert r.status_code == 200, (host, r.text)


def test_writes_from_a_page_of_another_origin_are_refused(served: httpx.Client) -> None:
    cross = {"Origin": EVIL}
    attempts = [
        # no preflight needed for these two: the browser sends them
        served.post(
            "/collections/c/records/jsonl",
            content=_jsonl("plain"),
            headers={**cross, "Content-Type": "text/plain"},
        ),
        served.post(
            "/collections/c/records/upload",
            files=[("files", ("x.jpg", image_bytes("coffee"), "image/jpeg"))],
            headers=cross,
        ),
        served.post(
            "/collections/c/records",
            json={"items": [{"id": "j", "base64": b64(image_bytes("coffee"))}]},
            headers=cross,
        ),
        served.post("/collections", json={"name": "d"}, headers={"Origin": "null"}),
        served.delete("/collections/c", headers={"Origin": "http://127.0.0.1.evil.example"}),
        served.post(
            "/collections/c/records/jsonl",
            content=_jsonl("fetch-site"),
            headers={"Content-Type": "application/x-ndjson", "Sec-Fetch-Site": "cross-site"},
        ),
        served.post(
            "/similarity/photos/v2/insert",
            json={"records": [{"_id": "x", "_base64": b64(image_bytes("coffee"))}]},
            headers={**cross, "collection-id": "c"},
        ),
    ]
    for r in attempts:
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "cross_origin"
    assert _count(served) == 0
    assert served.get("/collections/c").status_code == 200  # not dropped
    assert "d" not in [c["name"] for c in served.get("/collections").json()["collections"]]
    # reading is not a write: answered (the browser keeps the answer from the page)
    assert served.get("/collections/c/count", headers=cross).status_code == 200


def test_the_servers_own_page_the_cli_and_listed_origins_still_write(
    served: httpx.Client,
) -> None:
    own = str(served.base_url).rstrip("/")
    for n, headers in enumerate(
        (
            {"Origin": own, "Sec-Fetch-Site": "same-origin"},  # the page at /
            {},  # the CLI, the SDK, curl
            {"Sec-Fetch-Site": "none"},  # typed in the address bar
            {"Origin": "http://dashboard.example:3000"},  # cors_origins
            {"Origin": "https://search.example.com"},  # allowed_hosts
        )
    ):
        item = {"id": f"r{n}", "base64": b64(image_bytes("coffee"))}
        r = served.post("/collections/c/records", json={"items": [item]}, headers=headers)
        assert r.status_code == 200, (headers, r.text)
        assert r.json()["outcomes"][0]["status"] in ("indexed", "skipped"), r.text
    r = served.post(
        "/collections/c/search",
        json={"id": "r0", "top_k": 1},
        headers={"Origin": own, "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 200, r.text
    assert _count(served) == 5


def test_the_jsonl_route_reads_only_a_jsonl_content_type(served: httpx.Client) -> None:
    for media in ("text/plain", "application/x-www-form-urlencoded", "application/json", None):
        headers = {"Content-Type": media} if media else {}
        r = served.post("/collections/c/records/jsonl", content=_jsonl("a"), headers=headers)
        assert r.status_code == 415, (media, r.text)
        assert r.json()["error"]["code"] == "unsupported_media_type"
    assert _count(served) == 0
    for media in ("application/x-ndjson", "application/jsonl; charset=utf-8"):
        r = served.post(
            "/collections/c/records/jsonl", content=_jsonl("a"), headers={"Content-Type": media}
        )
        assert r.status_code == 200, r.text
    assert _count(served) == 1


@pytest.mark.parametrize(
    ("host", "allowed", "trusted"),
    [
        ("localhost", (), True),
        ("", (), False),
        ("localhost.", (), True),
        ("[::1]:80", (), True),
        ("::1", (), True),
        ("192.168.1.4:8000", (), True),
        ("evil.example", (), False),
        ("evil.example", ("*",), True),
        ("localhost@evil.example", (), False),
        ("evil.example:80@127.0.0.1", (), False),
        ("127.0.0.1 evil.example", (), False),
        ("x.example.com", (".example.com",), True),
        ("example.com", (".example.com",), True),
        ("badexample.com", (".example.com",), False),
        ("example.com.evil", ("example.com",), False),
    ],
)
def test_host_names(host: str, allowed: tuple[str, ...], trusted: bool) -> None:
    assert trusted_host(host, allowed) is trusted


@pytest.mark.parametrize(
    ("headers", "trusted"),
    [
        ({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8000"}, True),
        ({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:9000"}, False),
        ({"host": "127.0.0.1:8000", "origin": "http://localhost:8000"}, False),
        ({"host": "127.0.0.1:8000", "origin": "file://"}, False),
        ({"host": "127.0.0.1:8000", "origin": "javascript:alert(1)"}, False),
        ({"host": "127.0.0.1:8000", "sec-fetch-site": "same-site"}, False),
        ({"host": "127.0.0.1:8000", "sec-fetch-site": "same-origin"}, True),
        ({"host": "127.0.0.1:8000"}, True),
    ],
)
def test_origins(headers: dict[str, str], trusted: bool) -> None:
    assert trusted_origin(Headers(headers), allowed_hosts=(), cors_origins=()) is trusted
