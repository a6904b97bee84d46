"""Link rules for duplicate clusters, measured on the set of ``cluster_mix.py``: what the ideas for
keeping template graphics apart would give, before any of them is built into the product.

The links are the ones ``Collection.duplicates`` makes (each record's copy search, the same
candidates, verification and ``is_link``). Each rule then groups the same links:

- ``today``: every link joins two clusters (union-find), as the product does;
- ``photometric``: a geometric link also needs the two records' thumbnails (kept by default, at
  most 256 px) to agree once the first is warped into the second by the fitted transform: at
  32 x 32 grey levels, each normalised over the overlap, the share of cells more than 0.75 of a
  standard deviation apart is at most ``--cut``;
- ``star``: a member must be linked directly to its cluster's kept image (the ``original`` rule),
  verified again if the searches did not link them; the others are grouped again among
  themselves, the same way;
- ``star + photometric``: both.

It prints, per rule, the pair precision and recall as ``cluster_mix.py`` counts them, and the
photometric measure's spread over true and false links.

    python benchmarks/cluster_rules.py [--cut 0.15]
"""

from __future__ import annotations

import argparse
import base64
import io
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from cluster_mix import build, indexed, kind  # noqa: E402
from lookalike.filters import HasIds, Node, Not  # noqa: E402
from lookalike.payload import THUMBNAIL  # noqa: E402
from lookalike.signals.duplicate.clusters import (  # noqa: E402
    _SAME_PICTURE,
    NEIGHBOURS,
    ORIGINAL,
    VERIFY,
    _colours,
    _summary,
    choose_keeper,
    is_link,
)
from lookalike.signals.duplicate.copies import CopyHit, find_copies, record_copy_query  # noqa: E402
from lookalike.store.base import CollectionStore, StoredPoint, scroll_all  # noqa: E402

GRID = 32
APART = 0.75


def disagreement(first: np.ndarray, second: np.ndarray, hit: CopyHit) -> float | None:
    """Share of the overlap's grid cells where ``first`` (warped by the hit's transform) and
    ``second`` differ; None for a link without geometry (a hash link)."""
    m = hit.match
    if m is None or not m.candidate_corners:
        return None
    q = first[:, ::-1].copy() if m.mirrored else first
    hq, wq = q.shape[:2]
    hh, wh = second.shape[:2]
    src = np.array([[0, 0], [wq, 0], [wq, hq], [0, hq]], np.float32)
    dst = np.array([[x * wh, y * hh] for x, y in m.candidate_corners], np.float32)
    warp = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(q, warp, (wh, hh), flags=cv2.INTER_AREA)
    inside = cv2.warpPerspective(
        np.full((hq, wq), 255, np.uint8), warp, (wh, hh), flags=cv2.INTER_NEAREST
    )
    cells = cv2.resize((inside > 0).astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)
    mask = cells > 0.99
    if mask.sum() < 16:
        return 1.0
    a, b = (
        cv2.resize(
            cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32),
            (GRID, GRID),
            interpolation=cv2.INTER_AREA,
        )
        for im in (warped, second)
    )
    a = (a - a[mask].mean()) / (a[mask].std() + 1e-3)
    b = (b - b[mask].mean()) / (b[mask].std() + 1e-3)
    return float((np.abs(a - b)[mask] > APART).mean())


def components(nodes: Iterable[str], links: dict[str, set[str]]) -> list[list[str]]:
    left = set(nodes)
    out = []
    while left:
        start = left.pop()
        group, stack = {start}, [start]
        while stack:
            for other in links[stack.pop()]:
                if other in left:
                    left.discard(other)
                    group.add(other)
                    stack.append(other)
        out.append(sorted(group))
    return out


class Links:
    """The links of a collection, found as ``Collection.duplicates`` finds them."""

    def __init__(self, store: CollectionStore, threshold: float) -> None:
        self.store = store
        self.threshold = threshold
        self.points: dict[str, StoredPoint] = {
            p.id: p for p in scroll_all(store, page=128, with_vectors=True)
        }
        payloads = {p.id: p.payload for p in store.retrieve(list(self.points))}
        self.thumbs = {i: _thumbnail(payloads[i]) for i in self.points}
        self.summaries = {i: _summary(p) for i, p in self.points.items()}
        self.measured: list[tuple[str, str, float | None]] = []
        self.all: dict[str, set[str]] = defaultdict(set)
        self.agreeing: dict[str, set[str]] = defaultdict(set)

    def hits(self, rid: str, where: Node) -> list[CopyHit]:
        point = self.points[rid]
        query = record_copy_query(point.payload, point.vectors)
        if query is None:
            return []
        found = find_copies(
            self.store,
            query,
            limit=NEIGHBOURS,
            filter=where,
            threshold=self.threshold,
            max_verify=VERIFY,
            verify_below=max(self.threshold, _SAME_PICTURE),
            likely_only=False,
        )
        return [h for h in found if is_link(h, self.threshold, _colours(point.payload))]

    def agree(self, rid: str, hit: CopyHit, cut: float) -> bool:
        value = disagreement(self.thumbs[rid], self.thumbs[hit.id], hit)
        return value is None or value <= cut

    def collect(self, cut: float) -> None:
        for rid in self.points:
            for hit in self.hits(rid, Not(HasIds((rid,)))):
                value = disagreement(self.thumbs[rid], self.thumbs[hit.id], hit)
                self.measured.append((rid, hit.id, value))
                for a, b in ((rid, hit.id), (hit.id, rid)):
                    self.all[a].add(b)
                    if value is None or value <= cut:
                        self.agreeing[a].add(b)

    def stars(self, group: list[str], links: dict[str, set[str]], cut: float) -> list[list[str]]:
        """``group`` cut into clusters whose members each link directly to its kept image."""
        if len(group) < 2:
            return [group]
        keeper = choose_keeper(group, self.summaries, ORIGINAL, self.store)
        inside = [keeper] + [m for m in group if m != keeper and self.linked(m, keeper, links, cut)]
        out = [inside]
        for rest in components([m for m in group if m not in inside], links):
            out.extend(self.stars(rest, links, cut))
        return out

    def linked(self, a: str, b: str, links: dict[str, set[str]], cut: float) -> bool:
        """``a`` and ``b`` linked by the searches, or verified directly now, either way."""
        if b in links[a]:
            return True
        return any(self.agree(a, h, cut) for h in self.hits(a, HasIds((b,)))) or any(
            self.agree(b, h, cut) for h in self.hits(b, HasIds((a,)))
        )


def _thumbnail(payload: dict[str, Any]) -> np.ndarray:
    data = payload.get(THUMBNAIL)
    if not isinstance(data, str):
        raise SystemExit("a record has no thumbnail: this measure needs them (the default)")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def score(groups: list[list[str]], truth: set[frozenset[str]]) -> str:
    found = {frozenset(p) for g in groups for p in combinations(g, 2)}
    hit = len(found & truth)
    wrong = Counter(" + ".join(sorted(kind(i) for i in p)) for p in found - truth)
    sizes = sorted((len(g) for g in groups if len(g) > 1), reverse=True)[:5]
    return (
        f"pairs {len(found):>5}, true {hit:>3}: precision {hit / max(1, len(found)):.3f}, "
        f"recall {hit / len(truth):.3f}; largest clusters {sizes}; false: "
        + ", ".join(f"{k} {n}" for k, n in sorted(wrong.items()))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cut", type=float, default=0.15, help="photometric: most cells apart")
    args = parser.parse_args()
    folder, pairs = build(120, 20, 40, 3, 0)
    truth = {frozenset(p) for p in pairs}
    with indexed(folder) as coll:
        links = Links(coll.store, coll.copy_threshold)
        links.collect(args.cut)
        nodes = list(links.points)
        today = components(nodes, links.all)
        photometric = components(nodes, links.agreeing)
        star = [g for c in today for g in links.stars(c, links.all, 1.0)]
        both = [g for c in photometric for g in links.stars(c, links.agreeing, args.cut)]
    print(f"{len(nodes)} images, {len(truth)} true pairs; photometric cut {args.cut}")
    for name, groups in (
        ("today", today),
        ("photometric", photometric),
        ("star", star),
        ("star + photometric", both),
    ):
        print(f"  {name:<19} {score(groups, truth)}")
    print("cells apart over a link's overlap (geometric links, each way):")
    for label, want in (("true links", True), ("false links", False)):
        values = [
            v
            for a, b, v in links.measured
            if v is not None and (frozenset((a, b)) in truth) == want
        ]
        p: list[float] = list(np.percentile(values, [0, 10, 50, 90, 100])) if values else []
        print(
            f"  {label:<12} {len(values):>4}: min, p10, median, p90, max "
            + " ".join(f"{x:.3f}" for x in p)
        )


if __name__ == "__main__":
    main()
