"""Adding records through the server: what a synchronous batch costs, what a background job
costs over calling the engine in-process, and what thumbnails cost.

A real uvicorn server on loopback (``tests/support/server.py``) serves a ``duplicate`` collection
(no model files needed) with the default ``decode_workers``. Photos are scikit-image's sample
photographs resized to ``--width`` x ``--height`` JPEGs, sent as base64 JSON items.

Measured: latency of synchronous ``POST /records`` batches of 1, 4, 15 and 20 items (15 is the
largest batch decoded in-process; 20 uses the server's kept decode workers); a background job of
``--images`` items (its rate, against ``Collection.add`` of the same items in-process); the same
job into a collection that keeps thumbnails, their mean size and ``GET /thumbnails`` latency.

    python benchmarks/server_records.py [--images 200] [--width 1024] [--height 768]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from PIL import Image, ImageEnhance  # noqa: E402
from tests.support.samples import PHOTO_NAMES, photo  # noqa: E402
from tests.support.server import live_server  # noqa: E402

from lookalike import Engine, Settings  # noqa: E402


def make_images(count: int, size: tuple[int, int]) -> list[str]:
    """Distinct JPEGs (brightness varies), as base64."""
    out = []
    for i in range(count):
        im = photo(PHOTO_NAMES[i % len(PHOTO_NAMES)]).resize(size, Image.Resampling.BICUBIC)
        im = ImageEnhance.Brightness(im).enhance(0.7 + 0.6 * (i / max(1, count - 1)))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        out.append(base64.b64encode(buf.getvalue()).decode("ascii"))
    return out


def wait(client: httpx.Client, job_id: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)


def sync_latency(client: httpx.Client, images: list[str], sizes: list[int]) -> dict[str, Any]:
    out = {}
    for n in sizes:
        times = []
        for rep in range(3):
            items = [{"id": f"s{n}-{rep}-{i}", "base64": images[i]} for i in range(n)]
            start = time.perf_counter()
            body = {"items": items, "background": False}
            r = client.post("/collections/sync/records", json=body)
            times.append(time.perf_counter() - start)
            assert r.status_code == 200 and r.json()["indexed"] == n, r.text
        median = statistics.median(times)
        out[str(n)] = {"median_ms": round(1000 * median, 1), "items_per_s": round(n / median, 1)}
    return out


def job_run(client: httpx.Client, collection: str, images: list[str]) -> dict[str, Any]:
    items = [{"id": f"j{i}", "base64": b} for i, b in enumerate(images)]
    start = time.perf_counter()
    r = client.post(f"/collections/{collection}/records", json={"items": items})
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["id"])
    wall = time.perf_counter() - start
    assert job["status"] == "done" and job["indexed"] == len(images), job
    return {"wall_s": round(wall, 2), "job_rate": job["rate"], "items_per_s": len(images) / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    args = parser.parse_args()
    images = make_images(args.images, (args.width, args.height))
    results: dict[str, Any] = {"images": args.images, "size": f"{args.width}x{args.height}"}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "server", offline=True)
        with live_server(settings) as url:
            client = httpx.Client(base_url=url, timeout=600)
            for name, thumbs in (("sync", False), ("plain", False), ("thumbs", True)):
                body = {"name": name, "signals": "duplicate", "thumbnails": thumbs}
                assert client.post("/collections", json=body).status_code == 201
            results["sync_post"] = sync_latency(client, images, [1, 4, 15, 20])
            results["job"] = job_run(client, "plain", images)
            results["job_thumbnails"] = job_run(client, "thumbs", images)
            sizes, times = [], []
            for i in range(0, args.images, max(1, args.images // 50)):
                start = time.perf_counter()
                r = client.get(f"/collections/thumbs/thumbnails/j{i}")
                times.append(time.perf_counter() - start)
                sizes.append(len(r.content))
            results["thumbnail_bytes_mean"] = round(statistics.mean(sizes))
            results["thumbnail_get_median_ms"] = round(1000 * statistics.median(times), 2)
        with Engine(Settings(data_dir=Path(tmp) / "direct", offline=True)) as engine:
            coll = engine.create_collection("direct", signals="duplicate")
            items = [{"id": f"j{i}", "base64": b} for i, b in enumerate(images)]
            start = time.perf_counter()
            report = coll.add(items)
            wall = time.perf_counter() - start
            assert report.indexed == args.images
            results["engine_add_items_per_s"] = round(args.images / wall, 1)
    for key in ("job", "job_thumbnails"):
        results[key]["items_per_s"] = round(results[key]["items_per_s"], 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
