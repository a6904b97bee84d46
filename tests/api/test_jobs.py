"""Background jobs: a large batch from 202 to its final report, cancellation, and what a
restart keeps (the records) and forgets (the jobs)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from lookalike.api.routes.records import SYNC_MAX_ITEMS
from lookalike.config import Settings
from tests.support.builds import hold_builds
from tests.support.encoded import b64, corrupt_jpeg, image_bytes
from tests.support.server import in_process


def _wait(client: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        assert job["done"] <= job["total"]
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def _items(n: int, prefix: str) -> list[dict[str, Any]]:
    small = b64(image_bytes("rocket", side=64))
    return [{"id": f"{prefix}{i}", "base64": small} for i in range(n)]


@pytest.mark.slow
def test_a_large_batch_runs_as_a_job_to_its_report(server_settings: Settings) -> None:
    settings = server_settings.replace(default_signals=("duplicate",))
    with in_process(settings) as client:
        client.post("/collections", json={"name": "c"})
        items = _items(SYNC_MAX_ITEMS, "i")
        items[3] = {"id": "bad", "base64": b64(corrupt_jpeg())}
        items.append({"id": "last", "base64": b64(image_bytes("coffee", side=64))})
        r = client.post("/collections/c/records", json={"items": items})
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == f"/jobs/{job['id']}"
        assert job["total"] == len(items) and job["collection"] == "c"
        assert job["status"] in ("queued", "running")

        done = _wait(client, job["id"])
        assert done["status"] == "done" and done["phase"] == "done"
        assert (done["done"], done["indexed"], done["failed"]) == (len(items), len(items) - 1, 1)
        assert done["rate"] > 0 and done["finished_at"] >= done["started_at"]
        report = done["report"]
        assert report["indexed"] == len(items) - 1
        assert [o["index"] for o in report["outcomes"]] == list(range(len(items)))
        assert report["outcomes"][3] == {
            "index": 3,
            "id": "bad",
            "status": "failed",
            "error": report["outcomes"][3]["error"],
        }
        assert report["outcomes"][3]["error"]["code"] == "bad_image"
        listed = client.get("/jobs").json()["jobs"]
        assert [j["id"] for j in listed] == [job["id"]] and "report" not in listed[0]
        assert client.get("/collections/c/count").json() == {"count": len(items) - 1}
        # a small batch can ask for a job too
        r = client.post(
            "/collections/c/records",
            json={"items": [{"id": "small", "base64": items[0]["base64"]}], "background": True},
        )
        assert r.status_code == 202 and _wait(client, r.json()["id"])["indexed"] == 1

    # a restart forgets the jobs, not the records they reported
    with in_process(settings) as client:
        r = client.get(f"/jobs/{job['id']}")
        assert r.status_code == 404 and "restart" in r.json()["error"]["message"]
        assert client.get("/collections/c/count").json() == {"count": len(items)}


@pytest.mark.slow
def test_a_queued_job_can_be_cancelled_and_holds_its_collection(
    server_settings: Settings,
) -> None:
    settings = server_settings.replace(default_signals=("duplicate",))
    with in_process(settings) as client:
        client.post("/collections", json={"name": "c"})
        first = client.post(
            "/collections/c/records", json={"items": _items(100, "a"), "background": True}
        ).json()
        second = client.post(
            "/collections/c/records", json={"items": _items(20, "b"), "background": True}
        ).json()
        r = client.delete("/collections/c")  # jobs are writing into it
        assert r.status_code == 409 and second["id"] in r.json()["error"]["detail"]["jobs"]
        r = client.delete(f"/jobs/{second['id']}")
        assert r.status_code == 202
        cancelled = _wait(client, second["id"])
        assert cancelled["status"] == "cancelled" and cancelled["indexed"] < 20
        assert _wait(client, first["id"])["status"] == "done"
        assert client.get("/collections/c/count").json()["count"] == 100 + cancelled["indexed"]
        assert client.get("/jobs/nope").status_code == 404
        assert client.delete("/collections/c").status_code == 200


def test_a_job_shows_its_index_build_and_its_time_while_the_server_answers(
    server_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The build is held open until the test has seen it: what the job shows then, and that the
    # server answers meanwhile, does not depend on how long a build takes.
    release, entered = hold_builds(monkeypatch)
    settings = server_settings.replace(default_signals=("duplicate",), hnsw_threshold=20)
    with in_process(settings) as client:
        client.post("/collections", json={"name": "c"})
        r = client.post(
            "/collections/c/records", json={"items": _items(30, "i"), "background": True}
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        try:
            assert entered.wait(120), "no index build was started"
            first = client.get(f"/jobs/{job_id}").json()
            time.sleep(0.3)
            second = client.get(f"/jobs/{job_id}").json()
            assert client.get("/health").status_code == 200
            hits = client.post("/collections/c/search", json={"id": "i0", "top_k": 1})
            assert hits.status_code == 200, hits.text
        finally:
            release.set()
        assert first["status"] == second["status"] == "running"
        assert first["phase"] == second["phase"] == "building index"
        # 0.3 s apart, shown rounded to 0.1 s (and 1.1 + 0.3 > 1.4 in floating point)
        assert second["phase_seconds"] >= first["phase_seconds"] + 0.15
        done = _wait(client, job_id)
    assert done["status"] == "done" and done["phase_seconds"] is None
    assert done["report"]["index_built"] is True
