"""What a sorted listing page costs next to a page in store order, on the embedded store.

An Edge collection of ``--records`` points (4-d vectors: the listing never reads them) whose
``indexed_at`` values come in runs of ``--run`` equal values (a batch indexed together) and a
third of which have no ``exif.taken_at``. Then, in one run, pages of ``--page`` records read:

- in store order (``scroll``): the first page, the page ``--deep`` pages in and four times
  as deep (a page's cost should not grow with its depth);
- newest first (``ordered_page`` on ``indexed_at``, desc), the same three;
- by capture time (``taken_at``, asc), the same three, and one page among the records without
  it.

Prints milliseconds per page (median of ``--repeat``) and the ratio to store order.

    python benchmarks/sorted_pages.py [--records 100000] [--page 48] [--run 32] [--deep 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lookalike.store.base import StoredPoint, VectorSpec  # noqa: E402
from lookalike.store.edge import EdgeStore  # noqa: E402
from lookalike.store.ordering import ordered_page, parse_sort  # noqa: E402

START = datetime(2020, 1, 1, tzinfo=timezone.utc)


def fill(store: EdgeStore, records: int, run: int) -> None:
    store.create_collection("bench", [VectorSpec("v", 4)], {"signals": ["duplicate"]})
    coll = store.open_collection("bench")
    batch: list[StoredPoint] = []
    for i in range(records):
        payload: dict[str, object] = {
            "indexed_at": (START + timedelta(seconds=i // run)).isoformat(),
            "metadata": {"n": i},
        }
        if i % 3:
            payload["exif"] = {
                "taken_at": (START - timedelta(minutes=(i * 7919) % 500_000)).isoformat()
            }
        batch.append(StoredPoint(f"r{i}", payload, {"v": [1.0, float(i % 97), 0.5, 0.25]}))
        if len(batch) == 1000:
            coll.upsert(batch)
            batch = []
    coll.upsert(batch)
    coll.close()


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=48)
    parser.add_argument("--run", type=int, default=32)
    parser.add_argument("--deep", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = EdgeStore(Path(folder), hnsw_threshold=10**9)
        start = time.perf_counter()
        fill(store, args.records, args.run)
        print(f"{args.records} records written in {time.perf_counter() - start:.1f} s")
        coll = store.open_collection("bench")

        def cursors(step: Callable[[str | None], tuple[object, str | None]]) -> list[str | None]:
            """The cursors ``--deep`` and four times ``--deep`` pages in."""
            out, cursor = [], None
            for n in range(1, 4 * args.deep + 1):
                _, cursor = step(cursor)
                if n in (args.deep, 4 * args.deep):
                    out.append(cursor)
            return out

        rows = []
        plain: Callable[[str | None], tuple[object, str | None]] = lambda c: coll.scroll(  # noqa: E731
            limit=args.page, offset=c
        )
        for name, sort in (
            ("store order", None),
            ("newest first", "-indexed_at"),
            ("taken_at", "taken_at"),
        ):
            if sort is None:
                step = plain
            else:
                order = parse_sort(sort)

                def step(c: str | None, order=order) -> tuple[object, str | None]:  # type: ignore[no-untyped-def]
                    return ordered_page(coll, order, limit=args.page, cursor=c)

            times = [
                timed(lambda step=step, c=c: step(c), args.repeat)  # type: ignore[misc]
                for c in [None, *cursors(step)]
            ]
            rows.append((name, times))
        order = parse_sort("taken_at")
        cursor: str | None = None
        while True:  # walk to the records without a capture time
            points, cursor = ordered_page(coll, order, limit=5000, cursor=cursor)
            if cursor is None or not points or "exif" not in points[-1].payload:
                break
        tail = timed(lambda: ordered_page(coll, order, limit=args.page, cursor=cursor), args.repeat)
        coll.close()
    base = rows[0][1]
    print(f"load average {os.getloadavg()[0]:.2f}; pages of {args.page}")
    depths = f"page 1, {args.deep + 1}, {4 * args.deep + 1}"
    print(f"{'':14} {depths:>30} {'x store order':>20}")
    for name, times in rows:
        shown = " ".join(f"{ms:8.2f}ms" for ms in times)
        ratios = " / ".join(f"{ms / b:.1f}" for ms, b in zip(times, base, strict=True))
        print(f"{name:14} {shown} {ratios:>20}")
    print(f"{'no taken_at':14} {tail:10.2f}ms (a page of records without a capture time)")


if __name__ == "__main__":
    main()
