"""What a request may hold and what each bad part of it costs: too many items is a 413 naming
the limit; a path holding a NUL byte, an empty image, fail that item only; a record whose id
holds a newline is read, changed and deleted like any other; a job's report is paged, and only
the recent ones are kept."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from lookalike.api.jobs import KEEP_REPORTS
from lookalike.config import Settings
from tests.support.encoded import b64, image_bytes
from tests.support.server import in_process

LIMIT = 3


@pytest.fixture
def served(server_settings: Settings, tmp_path: Path) -> Iterator[httpx.Client]:
    root = tmp_path / "images"
    root.mkdir()
    (root / "cat.jpg").write_bytes(image_bytes("chelsea"))
    settings = server_settings.replace(allowed_roots=(str(root),), max_request_items=LIMIT)
    with in_process(settings) as client:
        assert client.post("/collections", json={"name": "c", "signals": "duplicate"}).is_success
        yield client


def _coffee(record_id: str) -> dict[str, str]:
    return {"id": record_id, "base64": b64(image_bytes("coffee"))}


def _statuses(answer: dict) -> list[tuple[str, str | None]]:  # type: ignore[type-arg]
    return [(o["status"], o.get("error", {}).get("code")) for o in answer["outcomes"]]


def _too_many(r: httpx.Response) -> None:
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert error["code"] == "too_large"
    assert "max_request_items" in error["message"] and f"the {LIMIT} allowed" in error["message"]


def test_a_request_of_more_items_than_allowed_is_refused_naming_the_limit(
    served: httpx.Client,
) -> None:
    many = LIMIT + 1
    _too_many(
        served.post(
            "/collections/c/records", json={"items": [_coffee(f"j{n}") for n in range(many)]}
        )
    )
    _too_many(
        served.post(
            "/collections/c/records/jsonl",
            content="\n".join(json.dumps(_coffee(f"l{n}")) for n in range(many)).encode(),
            headers={"Content-Type": "application/x-ndjson"},
        )
    )
    files = [("files", (f"{n}.jpg", image_bytes("coffee"), "image/jpeg")) for n in range(many)]
    _too_many(served.post("/collections/c/records/upload", files=files))
    ids = [f"x{n}" for n in range(many)]
    _too_many(served.post("/collections/c/records/delete", json={"ids": ids}))
    records = [{"_id": f"x{n}", "_base64": b64(image_bytes("coffee"))} for n in range(many)]
    r = served.post(
        "/similarity/photos/v2/insert", json={"records": records}, headers={"collection-id": "c"}
    )
    _too_many(r)
    assert r.json()["status"]["code"] == 413  # the shape the Ximilar-style clients read
    assert served.get("/collections/c/count").json()["count"] == 0
    # up to the limit (blank JSONL lines do not count) is answered
    r = served.post(
        "/collections/c/records", json={"items": [_coffee(f"j{n}") for n in range(LIMIT)]}
    )
    assert r.status_code == 200 and len(r.json()["outcomes"]) == LIMIT
    body = "\n\n".join(json.dumps(_coffee(f"l{n}")) for n in range(LIMIT)) + "\n\n"
    r = served.post(
        "/collections/c/records/jsonl",
        content=body.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200 and len(r.json()["outcomes"]) == LIMIT


def test_a_path_holding_a_nul_byte_fails_that_item_only(served: httpx.Client) -> None:
    items = [
        {"id": "nul", "path": "cat\u0000.jpg"},
        {"id": "abs", "path": "/etc/\u0000passwd"},
        {"id": "ok", "path": "cat.jpg"},
    ]
    r = served.post("/collections/c/records", json={"items": items})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert _statuses(answer) == [
        ("failed", "bad_input"),
        ("failed", "bad_input"),
        ("indexed", None),
    ]
    assert "NUL" in answer["outcomes"][0]["error"]["message"]

    lines = [json.dumps({"id": "nul2", "_file": "x\u0000"}), json.dumps(_coffee("fine"))]
    r = served.post(
        "/collections/c/records/jsonl",
        content="\n".join(lines).encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    assert _statuses(r.json()) == [("failed", "bad_input"), ("indexed", None)]

    ximilar = {"collection-id": "c"}
    records = [
        {"_id": "xnul", "_file": "cat.jpg\u0000../../etc/passwd"},
        {"_id": "xok", "_base64": b64(image_bytes("rocket"))},
    ]
    r = served.post("/similarity/photos/v2/insert", json={"records": records}, headers=ximilar)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [rec["_id"] for rec in answer["records"]] == ["xok"]
    assert [rec["_id"] for rec in answer["skipped_records"]] == ["xnul"]
    assert answer["skipped_records"][0]["_reason"]["status"]["code"] == 400
    r = served.post(
        "/similarity/photos/v2/visualKNN",
        json={"query_record": {"_file": "cat\u0000.jpg"}},
        headers=ximilar,
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_input", r.text
    assert served.get("/collections/c/count").json()["count"] == 3


def test_an_id_holding_a_newline_is_read_changed_and_deleted(served: httpx.Client) -> None:
    rid = "line one\nline two"
    r = served.post("/collections/c/records", json={"items": [_coffee(rid)]})
    assert _statuses(r.json()) == [("indexed", None)]
    path = f"/collections/c/records/{quote(rid, safe='')}"
    got = served.get(path)
    assert got.status_code == 200 and got.json()["id"] == rid, got.text
    r = served.patch(path, json={"metadata": {"k": 1}})
    assert r.status_code == 200 and r.json()["metadata"] == {"k": 1}, r.text
    r = served.delete(path)
    assert r.status_code == 200 and r.json() == {"deleted": rid}, r.text
    gone = served.get(path)
    assert gone.status_code == 404 and "no record" in gone.json()["error"]["message"]


def test_an_empty_image_is_the_same_error_sent_as_base64_or_as_an_upload(
    served: httpx.Client,
) -> None:
    r = served.post("/collections/c/records", json={"items": [{"id": "e", "base64": ""}]})
    (json_code,) = [code for _, code in _statuses(r.json())]
    r = served.post(
        "/collections/c/records/upload", files=[("files", ("e.jpg", b"", "image/jpeg"))]
    )
    (upload_code,) = [code for _, code in _statuses(r.json())]
    assert json_code == upload_code == "bad_image"

    searched = served.post("/collections/c/search", json={"image_base64": ""})
    uploaded = served.post(
        "/collections/c/search/upload", files={"image": ("e.jpg", b"", "image/jpeg")}
    )
    assert searched.status_code == uploaded.status_code == 400, (searched.text, uploaded.text)
    assert searched.json()["error"]["code"] == uploaded.json()["error"]["code"] == "bad_image"


def _job(client: httpx.Client, items: list[object]) -> str:
    r = client.post("/collections/c/records", json={"items": items, "background": True})
    assert r.status_code == 202, r.text
    job_id = str(r.json()["id"])
    deadline = time.monotonic() + 120
    while client.get(f"/jobs/{job_id}").json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.05)
    return job_id


def test_a_jobs_outcomes_are_paged_and_old_reports_let_go(served: httpx.Client) -> None:
    job_id = _job(served, [_coffee("a"), "not an object", _coffee("b")])
    whole = served.get(f"/jobs/{job_id}").json()["report"]
    assert [o["index"] for o in whole["outcomes"]] == [0, 1, 2]
    assert whole["outcomes_total"] == 3 and whole["next_offset"] is None
    first = served.get(f"/jobs/{job_id}", params={"limit": 2}).json()["report"]
    assert [o["index"] for o in first["outcomes"]] == [0, 1] and first["next_offset"] == 2
    rest = served.get(f"/jobs/{job_id}", params={"offset": 2, "limit": 2}).json()["report"]
    assert [o["index"] for o in rest["outcomes"]] == [2] and rest["next_offset"] is None
    assert first["outcomes"] + rest["outcomes"] == whole["outcomes"]
    assert served.get(f"/jobs/{job_id}", params={"limit": 0}).status_code == 422

    later = [_job(served, ["not an object"]) for _ in range(KEEP_REPORTS)]
    old = served.get(f"/jobs/{job_id}").json()
    assert old["status"] == "done" and old["report"] is None and old["report_dropped"] is True
    assert (old["indexed"], old["failed"]) == (2, 1)  # the counts stay
    recent = served.get(f"/jobs/{later[-1]}").json()
    assert recent["report"]["outcomes_total"] == 1 and "report_dropped" not in recent


def _post_json(
    client: httpx.Client, url: str, body: object, method: str = "POST"
) -> httpx.Response:
    """``body`` as Python's JSON writes it, NaN and Infinity included (httpx refuses them)."""
    content = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return client.request(method, url, content=content, headers=headers)


def _nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_metadata_the_store_cannot_keep_fails_that_item_only(served: httpx.Client) -> None:
    """NaN, Infinity, integers past 64 bits and nesting past the limit used to be a 500 losing
    the whole batch, or (nesting) a record that left its collection failing every search."""
    bad = [
        {"price": float("nan")},
        {"price": float("inf")},
        {"big": 2**70},
        {"deep": _nested(40)},
    ]
    items = [{**_coffee(f"bad{n}"), "metadata": m} for n, m in enumerate(bad)]
    items.append({**_coffee("good"), "metadata": {"deep": _nested(20), "price": 2.5}})
    assert served.post("/collections", json={"name": "meta", "signals": "duplicate"}).is_success
    for start in range(0, len(items), LIMIT):
        r = _post_json(served, "/collections/meta/records", {"items": items[start : start + LIMIT]})
        assert r.status_code == 200, r.text
        for outcome in r.json()["outcomes"]:
            want = "indexed" if outcome["id"] == "good" else "failed"
            assert outcome["status"] == want, outcome
            if want == "failed":
                assert outcome["error"]["code"] == "bad_input"
    assert served.get("/collections/meta/count").json()["count"] == 1
    assert served.post("/collections/meta/search", json={"id": "good"}).is_success

    lines = [json.dumps({**_coffee("j1"), "price": float("nan")}), json.dumps(_coffee("j2"))]
    r = served.post(
        "/collections/meta/records/jsonl",
        content="\n".join(lines).encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    assert _statuses(r.json()) == [("failed", "bad_input"), ("indexed", None)]

    r = _post_json(
        served, "/collections/meta/records/good", {"metadata": {"x": float("nan")}}, "PATCH"
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_input", r.text
    r = served.patch("/collections/meta/records/good", json={"metadata": _nested(40)})
    assert r.status_code == 400, r.text
    assert served.get("/collections/meta/records/good").json()["metadata"]["price"] == 2.5

    files = {"files": ("cat.jpg", image_bytes("chelsea"), "image/jpeg")}
    r = served.post(
        "/collections/meta/records/upload",
        files=files,
        data={"metadata": json.dumps({"deep": _nested(40)})},
    )
    assert r.status_code == 200 and _statuses(r.json()) == [("failed", "bad_input")], r.text
    assert served.post("/collections/meta/search", json={"id": "good"}).is_success
