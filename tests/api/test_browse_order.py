"""Browsing a collection in order over HTTP and through the SDK: newest first, oldest first,
by capture time (records without one last), paged with a cursor that repeats and skips
nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lookalike.client import Client
from tests.support.encoded import b64, image_bytes
from tests.support.exif_photos import exif_jpeg
from tests.support.samples import PHOTO_NAMES
from tests.support.server import IN_PROCESS, ApiClient


def _add(api: ApiClient, items: list[dict[str, Any]]) -> None:
    r = api.post("/collections/b/records", json={"items": items, "background": False})
    assert r.status_code == 200 and all(o["status"] == "indexed" for o in r.json()["outcomes"])


def _walk(api: ApiClient, sort: str, limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    offset: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit, "sort": sort}
        if offset:
            params["offset"] = offset
        r = api.get("/collections/b/records", params=params)
        assert r.status_code == 200, r.text
        out += r.json()["records"]
        offset = r.json()["next_offset"]
        if offset is None:
            return out


def test_records_list_newest_first_and_by_capture_time(api: ApiClient) -> None:
    made = api.post("/collections", json={"name": "b", "signals": ["duplicate", "exif"]})
    assert made.status_code == 201
    names = PHOTO_NAMES[:5]
    # three batches: each batch's records share one indexing time
    _add(api, [{"id": f"exif{i}", "base64": b64(exif_jpeg(n, i))} for i, n in enumerate(names)])
    _add(api, [{"id": "plain-a", "base64": b64(image_bytes(names[0], side=300))}])
    _add(api, [{"id": "plain-b", "base64": b64(image_bytes(names[1], side=200))}])
    every = {r["id"] for r in api.get("/collections/b/records").json()["records"]}
    assert len(every) == 7

    newest = _walk(api, "-indexed_at", 2)
    assert [r["id"] for r in newest][:2] == ["plain-b", "plain-a"]
    assert {r["id"] for r in newest} == every and len(newest) == 7
    stamps = [datetime.fromisoformat(r["indexed_at"]) for r in newest]
    assert stamps == sorted(stamps, reverse=True)
    oldest = _walk(api, "indexed_at", 3)
    assert [r["id"] for r in oldest][-2:] == ["plain-a", "plain-b"]

    taken = _walk(api, "-taken_at", 2)
    assert [r["id"] for r in taken][-2:] in (["plain-a", "plain-b"], ["plain-b", "plain-a"])
    times = [r["exif"]["taken_at"] for r in taken[:5]]
    assert times == sorted(times, reverse=True)  # one format and offset: text order is time
    assert [r["id"] for r in _walk(api, "taken_at", 1)][:5] == [f"exif{i}" for i in range(5)]


def test_bad_sorts_and_cursors_answer_400(api: ApiClient) -> None:
    assert api.post("/collections", json={"name": "b", "signals": ["duplicate"]}).status_code == 201
    _add(
        api,
        [
            {"id": f"r{i}", "base64": b64(image_bytes(n, side=64))}
            for i, n in enumerate(PHOTO_NAMES[:3])
        ],
    )
    assert api.get("/collections/b/records", params={"sort": "size"}).status_code == 422
    page = api.get("/collections/b/records", params={"sort": "-indexed_at", "limit": 1}).json()
    other = api.get(
        "/collections/b/records", params={"sort": "taken_at", "offset": page["next_offset"]}
    )
    assert other.status_code == 400 and other.json()["error"]["code"] == "bad_input"
    schema = api.get("/openapi.json").json()
    listed = schema["paths"]["/collections/{name}/records"]["get"]["parameters"]
    assert any(p["name"] == "sort" and "newest first" in p["description"] for p in listed)


def test_the_sdk_pages_in_order(api: ApiClient) -> None:
    assert api.post("/collections", json={"name": "b", "signals": ["duplicate"]}).status_code == 201
    for i, n in enumerate(PHOTO_NAMES[:3]):
        _add(api, [{"id": f"r{i}", "base64": b64(image_bytes(n, side=64))}])
    with Client(IN_PROCESS, http=api.another()) as client:
        coll = client.collection("b")
        first, cursor = coll.list_records(limit=2, sort="-indexed_at")
        rest, end = coll.list_records(limit=2, sort="-indexed_at", offset=cursor)
    assert [r["id"] for r in first + rest] == ["r2", "r1", "r0"] and end is None
