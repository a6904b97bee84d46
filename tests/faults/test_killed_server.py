"""Fault: the server is killed (kill -9) while a background job indexes a batch.

Injected: SIGKILL to ``lookalike serve`` (a real process, stopped by its PID) once its job has
reported a number of images indexed drawn from a seeded generator, plus a drawn delay (the seed
is printed; ``LOOKALIKE_FAULT_SEED`` replays it). The server is then started again on the same
data folder and the client sends the same batch again, as a client whose job vanished would.
Nothing the job reported indexed may be lost, and nothing may be stored twice.
"""

from __future__ import annotations

import base64
import io
import os
import random
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.support.server_process import server_process

IMAGES = 80


def _items(seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    items = []
    for n in range(IMAGES):
        base = rng.integers(0, 255, (4, 4, 3)).astype("uint8")
        im = Image.fromarray(base).resize((96, 96), Image.Resampling.BICUBIC)
        out = io.BytesIO()
        im.save(out, "JPEG", quality=85)
        items.append({"id": f"item-{n}", "base64": base64.b64encode(out.getvalue()).decode()})
    return items


def _ids(api: httpx.Client) -> list[str]:
    ids: list[str] = []
    offset = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if offset is not None:
            params["offset"] = offset
        page = api.get("/collections/c/records", params=params).json()
        ids += [r["id"] for r in page["records"]]
        offset = page["next_offset"]
        if offset is None:
            return ids


@pytest.mark.slow
def test_a_server_killed_during_a_job_loses_and_doubles_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("LOOKALIKE_FAULT_SEED", random.randrange(2**32)))
    print(f"fault seed {seed} (LOOKALIKE_FAULT_SEED={seed} replays it)")
    rng = random.Random(seed)
    items = _items(seed)
    env = {
        **os.environ,
        "LOOKALIKE_DATA_DIR": str(tmp_path / "data"),
        "LOOKALIKE_OFFLINE": "true",
        "LOOKALIKE_BATCH_SIZE": "4",
        "LOOKALIKE_DECODE_WORKERS": "1",
    }
    kill_after = rng.randint(1, IMAGES - 20)
    delay = rng.uniform(0.0, 0.5)
    log = tmp_path / "server.log"

    with server_process(env, log) as server:
        api = httpx.Client(base_url=server.url, timeout=120)
        created = api.post("/collections", json={"name": "c", "signals": "duplicate"})
        assert created.is_success, created.text
        r = api.post("/collections/c/records", json={"items": items})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        acknowledged = 0
        deadline = time.monotonic() + 180
        while acknowledged < kill_after:
            assert time.monotonic() < deadline, "the job never got that far"
            job = api.get(f"/jobs/{job_id}").json()
            assert job["status"] in ("queued", "running"), job
            acknowledged = job["indexed"]
            time.sleep(0.05)
        time.sleep(delay)
        # The last answer read before the kill is what a client was told.
        acknowledged = api.get(f"/jobs/{job_id}").json()["indexed"]
        server.kill()
    print(f"killed {delay:.2f} s after {kill_after} indexed; {acknowledged} acknowledged")

    with server_process(env, log) as server:
        api = httpx.Client(base_url=server.url, timeout=120)
        ids = _ids(api)
        assert len(ids) == len(set(ids)), "a record is stored twice"
        assert len(ids) >= acknowledged, "a record the job reported indexed is lost"
        assert api.get("/collections/c/count").json()["count"] == len(ids)
        stored = len(ids)

        r = api.post("/collections/c/records", json={"items": items})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 180
        while (job := api.get(f"/jobs/{job_id}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, "the rerun did not finish"
            time.sleep(0.1)
        assert job["status"] == "done" and job["failed"] == 0, job
        report = job["report"]
        assert report["skipped"] == stored and report["indexed"] == IMAGES - stored
        ids = _ids(api)
        assert sorted(ids) == sorted(i["id"] for i in items)
        assert api.get("/collections/c/count").json()["count"] == IMAGES
    assert "Traceback" not in log.read_text(), log.read_text()
