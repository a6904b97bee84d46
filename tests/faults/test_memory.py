"""Fault: requests that cost far more memory than their size.

Injected, against ``lookalike serve`` as a real process whose resident memory is read from
/proc/PID/status: eight concurrent uploads of a 9999 x 9999 PNG of one flat colour (a few hundred
KB on the wire, 300 MB of pixels once decoded, under the default ``max_pixels``), with a
``decode_pixel_budget`` of 200,000,000 pixels; and a body of one million empty items, small on
the wire, that would become a million-item job.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from tests.support.encoded import image_bytes
from tests.support.server_process import ServerProcess, server_process

MIB = 1024  # KiB in a MiB: /proc reports KiB
SIDE = 9999
BUDGET = 200_000_000
"""Two of the images fit at once: eight uploads decode two by two."""
ONE_DECODE_MIB = SIDE * SIDE * 3 // 2**20
"""The RGB pixels of one decoded image (286 MiB)."""


@pytest.fixture(scope="module")
def flat_png() -> bytes:
    im = Image.new("RGB", (SIDE, SIDE), (180, 40, 90))
    out = io.BytesIO()
    im.save(out, "PNG", compress_level=9)
    del im
    return out.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp_path = tmp_path_factory.mktemp("memory")
    env = {
        **os.environ,
        "LOOKALIKE_DATA_DIR": str(tmp_path / "data"),
        "LOOKALIKE_OFFLINE": "true",
        "LOOKALIKE_DECODE_PIXEL_BUDGET": str(BUDGET),
        "LOOKALIKE_DECODE_WORKERS": "1",
    }
    with server_process(env, tmp_path / "server.log") as server:
        api = httpx.Client(base_url=server.url, timeout=300)
        created = api.post("/collections", json={"name": "c", "signals": "duplicate"})
        assert created.is_success, created.text
        # Warm up: the first decode and write load what every later one uses.
        warm = api.post(
            "/collections/c/records/upload", files={"files": ("w.jpg", image_bytes("coffee"))}
        )
        assert warm.is_success, warm.text
        yield server


@pytest.mark.slow
def test_concurrent_huge_decodes_stay_within_the_pixel_budget(
    served: ServerProcess, flat_png: bytes
) -> None:
    assert len(flat_png) < 2_000_000  # small on the wire: what makes the flood cheap to send
    baseline = served.memory_kib()["VmRSS"]

    def upload(n: int) -> httpx.Response:
        with httpx.Client(base_url=served.url, timeout=300) as api:
            return api.post(
                "/collections/c/records/upload",
                files={"files": (f"big{n}.png", flat_png)},
                data={"ids": f"big{n}"},
            )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(upload, range(8)))
    for r in answers:
        assert r.status_code == 200, r.text
        assert r.json()["indexed"] == 1, r.text
    memory = served.memory_kib()
    peak_growth = (memory["VmHWM"] - baseline) // MIB
    left = (memory["VmRSS"] - baseline) // MIB
    print(
        f"baseline {baseline // MIB} MiB, peak +{peak_growth} MiB, after +{left} MiB; "
        f"one decode is {ONE_DECODE_MIB} MiB of pixels"
    )
    # Eight decodes at once need 8 x 286 MiB for their pixels alone (and about twice that with
    # the downscaled copy); the budget lets two run, about 1.1 GiB measured.
    assert peak_growth < 5 * ONE_DECODE_MIB
    assert left < ONE_DECODE_MIB
    count = httpx.get(f"{served.url}/collections/c/count", params={"filter": '{"width": 9999}'})
    assert count.json()["count"] == 8


@pytest.mark.slow
def test_a_million_empty_items_are_refused_naming_the_limit(served: ServerProcess) -> None:
    baseline = served.memory_kib()["VmRSS"]
    api = httpx.Client(base_url=served.url, timeout=300)
    before = api.get("/collections/c/count").json()["count"]
    body = json.dumps({"items": [{}] * 1_000_000})
    assert len(body) < 32 * 2**20  # under max_request_bytes: the item count is what refuses it
    r = api.post(
        "/collections/c/records", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code in (413, 422), r.text[:500]
    message = r.json()["error"]["message"]
    assert "max_request_items" in message and "10000" in message.replace(",", ""), message
    lines = b"{}\n" * 1_000_000
    r = api.post(
        "/collections/c/records/jsonl",
        content=lines,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code in (413, 422), r.text[:500]
    assert "max_request_items" in r.json()["error"]["message"]
    assert api.get("/jobs").json() in ([], {"jobs": []}), "no job was started"
    left = (served.memory_kib()["VmRSS"] - baseline) // MIB
    print(f"after the refusals: +{left} MiB")
    assert left < 200
    assert api.get("/collections/c/count").json()["count"] == before
