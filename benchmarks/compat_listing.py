"""Listing through the Ximilar-style routes: what the page cursors save, and random draws.

A live server (duplicate signal only, so no model is needed) is filled through the published
``ximilar-client`` with ``--records`` small distinct images (random crops of the sample photos).
Then:

- insert throughput through ``insert`` (batches of 100 records, base64, 96 px);
- ``all_records_iter`` over the whole collection, pages of ``--page-size``, as the client does
  it (the server remembers where each page starts);
- the same pages read in process with ``page_of`` and no remembered cursors (each page re-reads
  every page before it), the cost the cursors avoid;
- ``random`` (10 records) and ``get`` (10 ids) latency.

    python benchmarks/compat_listing.py [--records 600] [--page-size 20]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.samples import PHOTO_NAMES, photo  # noqa: E402
from tests.support.server import live_server  # noqa: E402
from ximilar.client import SimilarityPhotosClient  # noqa: E402

from lookalike import Engine, Settings  # noqa: E402
from lookalike.api.compat.ximilar_shapes import PageCursors, page_of  # noqa: E402


def crops(count: int, seed: int) -> list[str]:
    """``count`` distinct 96 px JPEGs, base64: random crops of the sample photos."""
    rng = random.Random(seed)
    images = [photo(n) for n in PHOTO_NAMES]
    out = []
    for _ in range(count):
        im = rng.choice(images)
        side = rng.randint(64, min(im.size))
        x, y = rng.randint(0, im.width - side), rng.randint(0, im.height - side)
        buf = io.BytesIO()
        im.crop((x, y, x + side, y + side)).resize((96, 96)).save(buf, "JPEG", quality=85)
        out.append(base64.b64encode(buf.getvalue()).decode())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=600)
    parser.add_argument("--page-size", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp()) / "data"
    settings = Settings(data_dir=data, offline=True, default_signals=("duplicate",))
    images = crops(args.records, args.seed)
    result: dict[str, float | int] = {"records": args.records, "page_size": args.page_size}
    with live_server(settings) as url:
        endpoint = url.replace("127.0.0.1", "localhost") + "/similarity/photos/v2/"
        client = SimilarityPhotosClient("bench", "bench", endpoint=endpoint)
        start = time.perf_counter()
        for first in range(0, args.records, 100):
            batch = [
                {"_id": f"r{i}", "_base64": images[i], "noresize": True}
                for i in range(first, min(first + 100, args.records))
            ]
            answer = client.insert(batch)
            assert not answer["skipped_records"], answer["skipped_records"][:1]
        result["insert_records_per_s"] = round(args.records / (time.perf_counter() - start), 1)

        start = time.perf_counter()
        listed = sum(1 for _ in client.all_records_iter(batch_size=args.page_size))
        result["all_records_iter_s"] = round(time.perf_counter() - start, 3)
        assert listed == args.records, listed

        for verb, call in (
            ("random_10_ms", lambda: client.random(count=10)),
            ("get_10_ms", lambda: client.get_records([{"_id": f"r{i}"} for i in range(10)])),
        ):
            times = []
            for _ in range(20):
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
            result[verb] = round(statistics.median(times) * 1000, 2)

    with Engine(settings) as engine:  # the same pages, in process, without remembered cursors
        collection = engine.collection("bench")
        start = time.perf_counter()
        collection.list_records(limit=1)  # opening the store replays its log: not timed below
        result["store_open_s"] = round(time.perf_counter() - start, 3)
        pages = -(-args.records // args.page_size)
        for label, remembered in (("pages_without_s", False), ("pages_with_cursors_s", True)):
            runs = []
            for _ in range(3):  # the best of three: the machine may be busy with other work
                cursors = PageCursors()
                start = time.perf_counter()
                for page in range(1, pages + 1):
                    page_of(
                        collection,
                        filter=None,
                        size=args.page_size,
                        page=page,
                        cursors=cursors if remembered else PageCursors(),
                    )
                runs.append(time.perf_counter() - start)
            result[label] = round(min(runs), 3)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
