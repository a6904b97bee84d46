"""Would SIFT keypoints verify the small crops that ORB misses? Measured before building it in.

The copy benchmark's crops (``copydays.py``: 10, 15, 20 and 25 %, 30 % and the plainest 20 %)
are each verified against their own original alone, which bounds what any search can answer
first above the threshold; its negatives (every transform of the photos never indexed) against
every indexed photo, which says whether the threshold still holds. Two kinds of points:

- ORB as the product extracts and verifies them (a record's 512 and its fill, a query's 768 and
  its fill, the Hamming ratio test);
- SIFT from OpenCV at the same budgets (``--record-points``, ``--query-points``), detected on the
  same work image (the same upscaling of small images), described as RootSIFT and matched by
  the nearest two in L2 with the same ratio test.

Both sets of matches go through the same geometry (``verification.agree``: RANSAC similarity,
refinement, distinct inliers), so only the points and descriptors differ. It prints the share
of each crop transform verifying with at least ``--inliers`` (8, the threshold's), for ORB,
SIFT and either; the negatives' largest inlier counts; and the extraction time a record, both
kinds timed in turns in one process, one thread.

    python benchmarks/sift_crops.py [--record-points 512] [--query-points 768] [--inliers 8]
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

CROPS = ("crop10", "crop15", "crop20", "crop20flat", "crop25", "crop30")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record-points", type=int, default=512)
    parser.add_argument("--query-points", type=int, default=768)
    parser.add_argument("--inliers", type=int, default=8, help="distinct inliers for a copy")
    parser.add_argument("--originals", type=int, default=40)
    parser.add_argument("--negatives", type=int, default=15)
    args = parser.parse_args()

    import cv2
    from PIL import Image

    from copydays import HARD_TRANSFORMS, TRANSFORMS, build
    from lookalike.images import decode
    from lookalike.signals.duplicate.localfeatures import (
        MIN_SIDE,
        LocalFeatures,
        extract,
        extract_query,
        verify,
    )
    from lookalike.signals.duplicate.localfeatures.keypoints import work_image
    from lookalike.signals.duplicate.localfeatures.verification import agree, unambiguous

    cv2.setNumThreads(1)
    s = build(args.originals, args.negatives, transforms=(*TRANSFORMS, *HARD_TRANSFORMS))

    def image(path: Path) -> Image.Image:
        return decode(path.read_bytes(), name=path.name, min_side=MIN_SIDE).image

    def sift(im: Image.Image, n: int) -> tuple[LocalFeatures, np.ndarray]:
        """SIFT points in ``im``'s frame (as LocalFeatures, for the geometry) and RootSIFT."""
        width, height = im.size
        gray, scale = work_image(im)  # the image ORB detects on
        found, desc = (), None
        if gray is not None:
            found, desc = cv2.SIFT.create(nfeatures=n).detectAndCompute(gray, None)
        if desc is None:
            desc = np.zeros((0, 128), np.float32)
        points = np.float32([k.pt for k in found]).reshape(-1, 2) / np.float32(scale)
        root = np.sqrt(desc / (desc.sum(axis=1, keepdims=True) + 1e-7)).astype(np.float32)
        placeholder = np.zeros((len(points), 32), np.uint8)  # the geometry reads points only
        return LocalFeatures(width, height, points, placeholder), root

    def sift_inliers(
        q: tuple[LocalFeatures, np.ndarray], c: tuple[LocalFeatures, np.ndarray]
    ) -> int:
        if len(q[1]) < 2 or len(c[1]) < 2:
            return 0
        pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(q[1], c[1], k=2)
        nearest = np.array([p[0].distance for p in pairs], np.float32)
        second = np.array([p[1].distance for p in pairs], np.float32)
        index = np.array([p[0].trainIdx for p in pairs], np.intp)
        found = agree(q[0], c[0], *unambiguous(nearest, second, index))
        return 0 if found is None else found[3]

    def orb_inliers(q: LocalFeatures, c: LocalFeatures) -> int:
        match = verify(q, c)
        return 0 if match is None else match.inliers

    names = sorted(p.name for p in s.index_dir.iterdir())
    orb_records: dict[str, LocalFeatures] = {}
    sift_records: dict[str, tuple[LocalFeatures, np.ndarray]] = {}
    orb_ms, sift_ms = [], []
    for name in names:
        im = image(s.index_dir / name)
        start = time.perf_counter()
        orb_records[name] = extract(im)
        middle = time.perf_counter()
        sift_records[name] = sift(im, args.record_points)
        orb_ms.append(1000 * (middle - start))
        sift_ms.append(1000 * (time.perf_counter() - middle))
    print(
        f"{len(names)} records: extraction ORB {statistics.median(orb_ms):.1f} ms, SIFT "
        f"{statistics.median(sift_ms):.1f} ms a record (medians, in turns): SIFT "
        f"{statistics.median(sift_ms) / statistics.median(orb_ms):.1f}x; points ORB "
        f"{np.mean([len(r) for r in orb_records.values()]):.0f}, SIFT "
        f"{np.mean([len(r[0]) for r in sift_records.values()]):.0f} on average"
    )

    crops: dict[str, list[tuple[int, int]]] = {t: [] for t in CROPS}
    negatives: list[tuple[int, int]] = []
    for q in s.queries:
        if q.expected is not None and q.transform not in crops:
            continue
        im = image(q.path)
        orb_q, sift_q = extract_query(im)[0], sift(im, args.query_points)
        if q.expected is not None:
            pair = (orb_q, orb_records[q.expected]), (sift_q, sift_records[q.expected])
            crops[q.transform].append((orb_inliers(*pair[0]), sift_inliers(*pair[1])))
        else:
            negatives.append(
                (
                    max(orb_inliers(orb_q, orb_records[n]) for n in names),
                    max(sift_inliers(sift_q, sift_records[n]) for n in names),
                )
            )

    k = args.inliers
    print(f"\ncrops verified against their own original with >= {k} distinct inliers")
    print(f"{'transform':11s}  n    ORB   SIFT  either")
    for t, got in crops.items():
        a = np.array(got).reshape(-1, 2)
        orb, sift_, either = a[:, 0] >= k, a[:, 1] >= k, (a >= k).any(axis=1)
        print(f"{t:11s} {len(a):2d}  {orb.mean():.3f}  {sift_.mean():.3f}  {either.mean():.3f}")
    n = np.array(negatives).reshape(-1, 2)
    print(
        f"\n{len(n)} negatives against all {len(names)} records, the most inliers of any: ORB "
        f"max {n[:, 0].max()} ({(n[:, 0] >= 5).sum()} at 5 or more), SIFT max {n[:, 1].max()} "
        f"({(n[:, 1] >= 5).sum()} at 5 or more); at >= {k} with either: "
        f"{(n >= k).any(axis=1).sum()}"
    )


if __name__ == "__main__":
    main()
