"""Thumbnails turned on over HTTP and through the SDK: a job making the missing ones from the
files under ``allowed_roots``, with progress and each record's outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lookalike.client import AsyncClient, Client
from lookalike.config import Settings
from lookalike.types import ThumbnailReport
from tests.support.encoded import b64, image_bytes, photo_folder
from tests.support.samples import PHOTO_NAMES
from tests.support.server import IN_PROCESS, ApiClient, in_process


@pytest.fixture
def served(server_settings: Settings, tmp_path: Path) -> Iterator[tuple[ApiClient, Path]]:
    root = photo_folder(tmp_path / "images", 4, side=300)
    settings = server_settings.replace(allowed_roots=(str(root),))
    with in_process(settings) as api:
        made = api.post(
            "/collections", json={"name": "c", "signals": "duplicate", "thumbnails": False}
        )
        assert made.status_code == 201 and made.json()["thumbnails"] is False
        items: list[dict[str, Any]] = [{"id": n, "path": f"{n}.jpg"} for n in PHOTO_NAMES[:4]]
        items.append({"id": "uploaded", "base64": b64(image_bytes(PHOTO_NAMES[4], side=200))})
        r = api.post("/collections/c/records", json={"items": items, "background": False})
        assert r.status_code == 200 and r.json()["indexed"] == 5
        yield api, root


def _finished(api: ApiClient, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        job: dict[str, Any] = api.get(f"/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError("the job did not end")


def test_turning_thumbnails_on_runs_a_job_with_each_outcome(
    served: tuple[ApiClient, Path],
) -> None:
    api, root = served
    assert api.get(f"/collections/c/thumbnails/{PHOTO_NAMES[0]}").status_code == 404
    (root / f"{PHOTO_NAMES[3]}.jpg").unlink()
    r = api.post("/collections/c/thumbnails")
    assert r.status_code == 202 and r.headers["location"] == f"/jobs/{r.json()['id']}"
    assert r.json()["kind"] == "thumbnails"
    job = _finished(api, r.json()["id"])
    assert job["status"] == "done" and (job["total"], job["done"], job["indexed"]) == (5, 5, 3)
    result = job["result"]
    assert (result["made"], result["source_missing"], result["failed"]) == (3, 2, 0)
    status = {o["id"]: o["status"] for o in result["outcomes"]}
    assert status == {
        **dict.fromkeys(PHOTO_NAMES[:3], "made"),
        PHOTO_NAMES[3]: "source_missing",
        "uploaded": "source_missing",
    }
    shown = api.get(f"/collections/c/thumbnails/{PHOTO_NAMES[0]}")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert api.get("/collections/c").json()["thumbnails"] is True
    hits = api.post("/collections/c/search", json={"id": PHOTO_NAMES[1], "top_k": 2}).json()
    assert all("thumbnail_url" in h for h in hits["results"])

    page = api.get(f"/jobs/{job['id']}", params={"offset": 1, "limit": 2}).json()["result"]
    assert [o["id"] for o in page["outcomes"]] == [o["id"] for o in result["outcomes"][1:3]]
    assert page["next_offset"] == 3 and page["outcomes_total"] == 5

    again = _finished(api, api.post("/collections/c/thumbnails").json()["id"])["result"]
    assert (again["total"], again["kept"], again["made"]) == (2, 3, 0)


def test_a_file_moved_outside_the_roots_fails_alone(
    served: tuple[ApiClient, Path], tmp_path: Path
) -> None:
    api, root = served
    outside = tmp_path / "elsewhere.jpg"
    (root / f"{PHOTO_NAMES[0]}.jpg").rename(outside)
    (root / f"{PHOTO_NAMES[0]}.jpg").symlink_to(outside)  # still there, through a link out
    result = _finished(api, api.post("/collections/c/thumbnails").json()["id"])["result"]
    failed = [o for o in result["outcomes"] if o["status"] == "failed"]
    assert [(o["id"], o["code"]) for o in failed] == [(PHOTO_NAMES[0], "forbidden_path")]
    assert result["made"] == 3
    assert api.post("/collections/missing/thumbnails").status_code == 404


def test_the_sdk_waits_for_the_job_and_answers_the_report(served: tuple[ApiClient, Path]) -> None:
    api, _ = served
    with Client(IN_PROCESS, http=api.another()) as client:
        coll = client.collection("c")
        seen: list[int] = []
        report = coll.make_thumbnails(progress=lambda p: seen.append(p.done))
    assert isinstance(report, ThumbnailReport)
    assert (report.made, report.source_missing) == (4, 1)
    assert {o.id: o.status for o in report.outcomes}["uploaded"] == "source_missing"
    assert seen and seen[-1] == 5 and coll.config["thumbnails"] is True


def test_the_async_sdk_too(served: tuple[ApiClient, Path]) -> None:
    api, _ = served

    async def scenario() -> ThumbnailReport:
        async with AsyncClient(IN_PROCESS, http=api.async_client()) as client:
            coll = await client.collection("c")
            page, cursor = await coll.list_records(limit=2, sort="-indexed_at")
            assert len(page) == 2 and cursor is not None
            return await coll.make_thumbnails()

    report = asyncio.run(scenario())
    assert (report.made, report.source_missing, report.total) == (4, 1, 5)
