"""Records over HTTP: JSON, upload and JSONL batches with one outcome per item, server-side
paths under the allowed roots, record routes, pagination and thumbnails."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from lookalike.api.routes.records import SYNC_MAX_ITEMS
from lookalike.config import Settings
from lookalike.decode_workers import THUMBNAIL_SIDE
from lookalike.store.base import THUMBNAIL
from tests.support.encoded import PDF, b64, corrupt_jpeg, image_bytes, truncated
from tests.support.image_server import serving
from tests.support.server import ApiClient, in_process


@pytest.fixture
def served(server_settings: Settings, tmp_path: Path) -> Iterator[tuple[httpx.Client, Path, str]]:
    """A server allowed to read ``root`` and to fetch from loopback, with a collection ``c``;
    and an image host on loopback, for URL items."""
    root = tmp_path / "images"
    root.mkdir()
    (root / "cat.jpg").write_bytes(image_bytes("chelsea"))
    (tmp_path / "outside.jpg").write_bytes(image_bytes("camera"))
    (root / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    settings = server_settings.replace(
        allowed_roots=(str(root),), allowed_networks=("127.0.0.0/8",), fetch_retries=0
    )
    hosted = tmp_path / "hosted"
    hosted.mkdir()
    (hosted / "rocket.jpg").write_bytes(image_bytes("rocket"))
    with serving(hosted) as images, in_process(settings) as client:
        assert client.post("/collections", json={"name": "c"}).status_code == 201
        yield client, root, images


def _statuses(answer: dict) -> list[tuple[str, str | None]]:  # type: ignore[type-arg]
    return [(o["status"], o.get("error", {}).get("code")) for o in answer["outcomes"]]


def test_json_items_each_get_their_outcome(served: tuple[httpx.Client, Path, str]) -> None:
    client, root, images = served
    coffee = image_bytes("coffee")
    items = [
        {"id": "b64", "base64": b64(coffee), "metadata": {"kind": "drink"}, "group": "g"},
        {"id": "url", "url": f"{images}/rocket.jpg"},
        {"id": "rel", "path": "cat.jpg"},
        {"id": "abs", "path": str(root / "cat.jpg")},
        {"id": "corrupt", "base64": b64(corrupt_jpeg())},
        {"id": "truncated", "base64": b64(truncated(coffee))},
        {"id": "pdf", "base64": b64(PDF)},
        {"id": "private", "url": "http://10.1.2.3/x.jpg"},
        {"id": "unreachable", "url": "http://no-such-host.invalid/x.jpg"},
        {"id": "missing", "url": f"{images}/nope.jpg"},
        {"id": "outside", "path": str(root.parent / "outside.jpg")},
        {"id": "escape", "path": "link.jpg"},
        {"id": "traversal", "path": "../outside.jpg"},
        {"id": "alias", "_file": "../outside.jpg"},
        {"id": "folder", "path": str(root)},
        "not an object",
        {"id": "two", "url": "http://example.com/a.jpg", "base64": b64(coffee)},
    ]
    assert len(items) > SYNC_MAX_ITEMS  # answered at once all the same, when asked
    r = client.post("/collections/c/records", json={"items": items, "background": False})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [o["index"] for o in answer["outcomes"]] == list(range(len(items)))
    assert [o["id"] for o in answer["outcomes"]][:4] == ["b64", "url", "rel", "abs"]
    assert _statuses(answer) == [
        ("indexed", None),
        ("indexed", None),
        ("indexed", None),
        ("indexed", None),
        ("failed", "bad_image"),
        ("failed", "bad_image"),
        ("failed", "unsupported_format"),
        ("failed", "forbidden_address"),
        ("failed", "fetch_failed"),
        ("failed", "fetch_failed"),
        ("failed", "forbidden_path"),
        ("failed", "forbidden_path"),
        ("failed", "forbidden_path"),
        ("failed", "forbidden_path"),
        ("failed", "bad_input"),
        ("failed", "bad_input"),
        ("failed", "bad_input"),
    ]
    messages = {o["id"]: o.get("error", {}).get("message", "") for o in answer["outcomes"]}
    assert "truncated" in messages["truncated"]
    assert "symbolic link" in messages["escape"]
    assert answer["indexed"] == 4 and len(answer["failed"]) == 13
    assert client.get("/collections/c").json()["count"] == 4
    rel = client.get("/collections/c/records/rel").json()
    assert rel["source"] == str(root / "cat.jpg") and rel["width"] > 0

    # the same image again: unchanged, or only its metadata changes; a copy can be skipped
    again = [
        {"id": "b64", "base64": b64(coffee), "metadata": {"kind": "drink"}},
        {"id": "rel", "path": "cat.jpg", "metadata": {"kind": "cat"}},
        {"id": "copy", "base64": b64(coffee)},
    ]
    r = client.post("/collections/c/records", json={"items": again, "on_duplicate": "skip"})
    answer = r.json()
    assert _statuses(answer) == [("skipped", None), ("updated", None), ("duplicate", None)]
    assert answer["outcomes"][2]["duplicate_of"] == "b64"
    assert client.get("/collections/c/records/rel").json()["metadata"] == {"kind": "cat"}
    r = client.post("/collections/c/records", json={"items": [], "on_duplicate": "maybe"})
    assert r.status_code == 422


def test_uploads_and_jsonl_bodies(api: ApiClient) -> None:
    client = api
    client.post("/collections", json={"name": "c", "signals": "duplicate"})
    files = [
        ("files", ("astronaut.jpg", image_bytes("astronaut"), "image/jpeg")),
        ("files", ("rocket.png", image_bytes("rocket", "PNG"), "image/png")),
        ("files", ("notes.txt", b"hello, not an image", "text/plain")),
    ]
    metadata = json.dumps([{"n": 1}, {"n": 2}, {"n": 3}])
    r = client.post(
        "/collections/c/records/upload",
        files=files,
        data={"ids": ["a", "b/2", "c"], "metadata": metadata, "group": "up"},
    )
    assert r.status_code == 200, r.text
    assert _statuses(r.json()) == [("indexed", None), ("indexed", None), ("failed", "bad_image")]
    record = client.get("/collections/c/records/b/2").json()  # ids may hold '/'
    assert record["metadata"] == {"n": 2} and record["group"] == "up"
    assert record["source"] == "upload:rocket.png" and record["format"] == "PNG"

    # one metadata object for all, ids as a JSON list, the default id is the content hash
    r = client.post(
        "/collections/c/records/upload",
        files=[("files", ("x.jpg", image_bytes("coffee"), "image/jpeg"))],
        data={"metadata": '{"all": true}'},
    )
    (outcome,) = r.json()["outcomes"]
    assert outcome["status"] == "indexed" and len(outcome["id"]) == 32
    assert client.get(f"/collections/c/records/{outcome['id']}").json()["metadata"] == {"all": True}
    for data, message in (
        ({"ids": ["only-one", "two"]}, "2 ids for 1 files"),
        ({"ids": '["a", {"b": 1}]'}, "ids"),
        ({"metadata": "{not json"}, "metadata: not valid JSON"),
        ({"metadata": "[1, 2]"}, "metadata: expected"),
    ):
        r = client.post(
            "/collections/c/records/upload",
            files=[("files", ("x.jpg", image_bytes("coffee"), "image/jpeg"))],
            data=data,
        )
        assert r.status_code == 400 and message in r.json()["error"]["message"], r.text

    # a path sent to a server without allowed roots is refused, saying why
    body = "\n".join(
        [
            json.dumps({"id": "j1", "base64": b64(image_bytes("camera")), "shelf": 3}),
            "",
            "{broken json",
            json.dumps({"_id": "j2", "_base64": b64(image_bytes("retina"))}),
            json.dumps({"id": "p", "path": "/srv/images/a.jpg"}),
        ]
    )
    r = client.post(
        "/collections/c/records/jsonl",
        content=body.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert _statuses(answer) == [
        ("indexed", None),
        ("failed", "bad_input"),
        ("indexed", None),
        ("failed", "forbidden_path"),
    ]
    assert "line 3" in answer["outcomes"][1]["error"]["message"]
    assert "no allowed_roots" in answer["outcomes"][3]["error"]["message"]
    assert client.get("/collections/c/records/j1").json()["metadata"] == {"shelf": 3}
    assert client.get("/collections/c/records/j2").status_code == 200


def test_an_id_holding_a_nul_byte_fails_alone_and_the_batch_goes_in(api: ApiClient) -> None:
    api.post("/collections", json={"name": "c", "signals": "duplicate", "thumbnails": False})
    items = [
        {"id": "before", "base64": b64(image_bytes("coffee"))},
        {"id": "a\u0000b", "base64": b64(image_bytes("rocket"))},
        {"id": "new\nline", "base64": b64(image_bytes("camera"))},  # kept: readable back
        {"id": "after", "base64": b64(image_bytes("chelsea"))},
    ]
    r = api.post("/collections/c/records", json={"items": items, "background": False})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert _statuses(answer) == [
        ("indexed", None),
        ("failed", "bad_input"),
        ("indexed", None),
        ("indexed", None),
    ]
    refused = answer["outcomes"][1]
    assert refused["id"] == "a\u0000b" and "NUL byte" in refused["error"]["message"]
    assert api.get("/collections/c").json()["count"] == 3
    assert api.get("/collections/c/records/new%0Aline").json()["id"] == "new\nline"
    files = [
        ("files", ("a.jpg", image_bytes("astronaut"), "image/jpeg")),
        ("files", ("b.jpg", image_bytes("rocket"), "image/jpeg")),
    ]
    r = api.post("/collections/c/records/upload", files=files, data={"ids": ["up\u0000", "up"]})
    assert r.status_code == 200, r.text
    assert _statuses(r.json()) == [("failed", "bad_input"), ("indexed", None)]


def test_record_routes_pagination_and_errors(api: ApiClient) -> None:
    client = api
    client.post("/collections", json={"name": "c", "signals": "duplicate", "thumbnails": False})
    data = b64(image_bytes("coffee", side=96))
    items = [
        {"id": f"shoes/{n}", "base64": data, "metadata": {"n": n, "even": n % 2 == 0}}
        for n in range(9)
    ]
    assert client.post("/collections/c/records", json={"items": items}).json()["indexed"] == 9

    seen: list[str] = []
    offset = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if offset:
            params["offset"] = offset
        page = client.get("/collections/c/records", params=params).json()
        assert len(page["records"]) <= 2
        seen += [rec["id"] for rec in page["records"]]
        pages += 1
        offset = page["next_offset"]
        if offset is None:
            break
    assert sorted(seen) == sorted(i["id"] for i in items) and pages == 5
    even = client.get("/collections/c/records", params={"filter": '{"even": true}'}).json()
    assert sorted(r["metadata"]["n"] for r in even["records"]) == [0, 2, 4, 6, 8]
    assert client.get("/collections/c/count").json() == {"count": 9}
    assert client.get("/collections/c/count", params={"filter": '{"n": {"$gte": 7}}'}).json() == {
        "count": 2
    }

    r = client.patch("/collections/c/records/shoes/1", json={"metadata": {"x": 1}, "merge": True})
    assert r.status_code == 200 and r.json()["metadata"] == {"n": 1, "even": False, "x": 1}
    r = client.patch("/collections/c/records/shoes/1", json={"metadata": {"y": 2}, "group": "g"})
    assert r.json()["metadata"] == {"y": 2} and r.json()["group"] == "g"
    assert THUMBNAIL not in client.get("/collections/c/records/shoes/1").json()

    assert client.delete("/collections/c/records/shoes/0").json() == {"deleted": "shoes/0"}
    r = client.post("/collections/c/records/delete", json={"ids": ["shoes/1", "shoes/0"]})
    assert r.json() == {"deleted": {"shoes/1": True, "shoes/0": False}}
    assert client.get("/collections/c/count").json() == {"count": 7}

    for r in (
        client.get("/collections/c/records/shoes/0"),
        client.patch("/collections/c/records/shoes/0", json={"group": "g"}),
        client.delete("/collections/c/records/shoes/0"),
        client.get("/collections/c/thumbnails/shoes/2"),  # made without thumbnails
    ):
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    for r in (
        client.get("/collections/c/records", params={"filter": '{"n": {"$regex": "1"}}'}),
        client.get("/collections/c/count", params={"filter": "{not json"}),
    ):
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_filter", r.text
    r = client.get("/collections/c/records", params={"offset": "not-an-offset"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_input"
    message = r.json()["error"]["message"]
    assert "invalid cursor 'not-an-offset'" in message and "next_offset as offset" in message
    assert client.get("/collections/c/records", params={"limit": 0}).status_code == 422
    assert client.post("/collections/c/records/delete", json={"ids": []}).status_code == 422


def test_thumbnails_over_http(api: ApiClient) -> None:
    client = api
    client.post("/collections", json={"name": "t", "signals": "duplicate", "thumbnails": True})
    items = [{"id": "astro/1", "base64": b64(image_bytes("astronaut"))}]
    assert client.post("/collections/t/records", json={"items": items}).json()["indexed"] == 1
    r = client.get("/collections/t/thumbnails/astro/1")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert "max-age" in r.headers["cache-control"] and r.headers["etag"]
    thumb = Image.open(io.BytesIO(r.content))
    assert thumb.format == "JPEG" and max(thumb.size) <= THUMBNAIL_SIDE
    assert THUMBNAIL not in client.get("/collections/t/records/astro/1").json()
    again = client.get(
        "/collections/t/thumbnails/astro/1", headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304 and not again.content
    r = client.get("/collections/t/thumbnails/nope")
    assert r.status_code == 404 and "no record" in r.json()["error"]["message"]
