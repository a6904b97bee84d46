"""Where the time of a write to the embedded store goes, per point, stage by stage.

The million-point ingest of ``vector_scale.py`` spends most of its insert time in Python before
the store sees a point. This splits one batch write the way ``EdgeCollection.upsert`` makes it
(and the way the benchmark's records look: a 512-d vector and a payload like a record's) into
its stages, each timed alone on the same points in one process, and prints microseconds per
point and each stage's share:

- ``vector to list``: numpy row to a Python list (what the engine hands the store);
- ``point id``: the record id to the store's UUID;
- ``Point: vector``: qdrant-edge's ``Point`` made with the vector and an empty payload;
- ``Point: payload``: the same with the payload and no vector (the binding converts each
  payload value by trying types in turn);
- ``shard update``: the shard writes a batch of ready points (log, segment, payload indexes).

    python benchmarks/store_writes.py --points 20000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import qdrant_edge as qe  # noqa: E402

from lookalike.store.base import VectorSpec, point_id  # noqa: E402
from lookalike.store.edge import EdgeLayout, EdgeStore  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from vector_scale import Shape, payload  # noqa: E402


def per_point(seconds: float, points: int) -> float:
    return 1e6 * seconds / points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    n = args.points
    vectors = Shape().chunk(0, n)
    payloads = [payload(i) for i in range(n)]
    stages: dict[str, float] = {}

    def timed(name: str, work: Any) -> Any:
        started = time.perf_counter()
        out = work()
        stages[name] = time.perf_counter() - started
        return out

    rows = timed("vector to list", vectors.tolist)
    ids = timed("point id", lambda: [point_id(str(i)) for i in range(n)])
    timed("Point: vector", lambda: [qe.Point(ids[i], {"semantic": rows[i]}, {}) for i in range(n)])
    timed("Point: payload", lambda: [qe.Point(ids[i], {}, payloads[i]) for i in range(n)])
    points = [qe.Point(ids[i], {"semantic": rows[i]}, payloads[i]) for i in range(n)]

    root = Path(tempfile.mkdtemp(prefix="store-writes-"))
    try:
        store = EdgeStore(root, layout=EdgeLayout(on_disk=True, quantization=True))
        store.create_collection("w", [VectorSpec("semantic", 512)], {"signals": []})
        with store.open_collection("w") as collection:
            shard = collection._shard  # the shard itself: only its own write is timed

            def update() -> None:
                for start in range(0, n, args.batch):
                    batch = points[start : start + args.batch]
                    shard.update(qe.UpdateOperation.upsert_points(batch))

            timed("shard update", update)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    total = sum(stages.values())
    print(f"{n:,} points of 512 dims in batches of {args.batch}; load {os.getloadavg()}")
    print(f"{'stage':<16} {'us/point':>9} {'share':>6}")
    for name, seconds in stages.items():
        print(f"{name:<16} {per_point(seconds, n):>9.1f} {seconds / total:>6.0%}")
    print(f"{'all':<16} {per_point(total, n):>9.1f}")
    print(f"a million points: {total / n * 1e6:.0f} s in these stages")


if __name__ == "__main__":
    main()
