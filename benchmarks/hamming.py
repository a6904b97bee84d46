"""Descriptor matching: OpenCV's ``batchDistance`` against the integer product of
``lookalike.signals.duplicate.localfeatures.hamming``, in one process, in turns.

The pairs are the ones a copy query matches: the copy benchmark's queries (``copydays.py``:
copies and negatives, their keypoints extracted as a query extracts them, 768 points and the
fill) against the keypoints of its indexed photos (as ingest stores them), every query against
``--records`` of them. Each side finds every query point's nearest two candidate descriptors;
the run checks that both find the same distances and neighbours, and prints each side's time a
pair and their ratio (median of the rounds' ratios). One thread, as each verification runs.

    python benchmarks/hamming.py [--queries 60] [--records 13] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--records", type=int, default=13, help="records each query meets")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import cv2

    from copydays import build
    from lookalike.images import decode
    from lookalike.signals.duplicate.localfeatures import MIN_SIDE, extract, extract_query
    from lookalike.signals.duplicate.localfeatures.hamming import nearest_two

    cv2.setNumThreads(1)
    s = build(12, 5)

    def image(path: Path) -> object:
        return decode(path.read_bytes(), name=path.name, min_side=MIN_SIDE).image

    records = [extract(image(p)) for p in sorted(s.index_dir.iterdir())]
    step = max(1, len(s.queries) // args.queries)
    queries = [extract_query(image(q.path))[0] for q in s.queries[::step]][: args.queries]
    rng = np.random.default_rng(0)
    pairs = [
        (q, records[i]) for q in queries for i in rng.choice(len(records), args.records, False)
    ]

    def opencv() -> list[tuple[np.ndarray, ...]]:
        out = []
        for q, c in pairs:
            dist, nearest = cv2.batchDistance(
                q.descriptors, c.descriptors, cv2.CV_32S, normType=cv2.NORM_HAMMING, K=2
            )
            out.append((dist[:, 0], dist[:, 1], nearest[:, 0]))
        return out

    def product() -> list[tuple[np.ndarray, ...]]:
        return [nearest_two(q.signs, c.descriptors) for q, c in pairs]

    a, b = opencv(), product()
    same = all(
        all(np.array_equal(x, y) for x, y in zip(p, r, strict=True))
        for p, r in zip(a, b, strict=True)
    )
    times: dict[str, list[float]] = {"opencv": [], "product": []}
    for _ in range(args.rounds):
        for name, side in (("opencv", opencv), ("product", product)):
            start = time.perf_counter()
            side()
            times[name].append(1000 * (time.perf_counter() - start) / len(pairs))
    points = (
        statistics.median(len(q) for q, _ in pairs),
        statistics.median(len(c) for _, c in pairs),
    )
    print(
        f"{len(pairs)} pairs ({len(queries)} queries x {args.records} records; median points "
        f"{points[0]:.0f} x {points[1]:.0f}); the same distances and neighbours: {same}"
    )
    for name, ms in times.items():
        print(f"{name:<8} {statistics.median(ms):.3f} ms a pair (median of {args.rounds})")
    ratios = [o / p for o, p in zip(times["opencv"], times["product"], strict=True)]
    print(
        f"ratio    {statistics.median(ratios):.2f}x (opencv / product; rounds: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + ")"
    )
    if not same:
        raise SystemExit("the two sides differ")


if __name__ == "__main__":
    main()
