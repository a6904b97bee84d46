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
- ``star + photometric``: both;
- ``hull`` / ``overlap``, ``min`` / ``max`` ``>= c``: a link made by geometry alone also needs
  its inliers to cover the pictures. Verification is fitted again to know its inliers; in each
  image, the keypoints inside the convex hull of its inlier keypoints (``hull``), or inside the
  part of the image the transform puts inside the other (``overlap``), are counted, and the
  coverage is the share of them within ``--radius`` of the diagonal of an inlier; the smaller
  (``min``) or the larger (``max``) of the two images' must be at least ``c``;
- ``star + coverage``: the star rule over one of those (``--measure``, ``--combine``,
  ``--least``).
- ``region <= c``: a geometric link also needs the largest region where the two thumbnails
  disagree (:func:`largest_region`) to hold at most ``--region`` of their overlap.

``--photos`` measures that region on real copies too: each copy of the copy benchmark's
originals (``benchmarks/copydays.py``), under every transform, that verifies above the threshold
against its original, and how many exceed ``--region``.

It prints, per rule, the pair precision and recall as ``cluster_mix.py`` counts them, and the
measures' spread over true and false links (the true ones per transform of the copy, the false
ones per kinds of the two images).

    python benchmarks/cluster_rules.py [--cut 0.15] [--radius 0.06] [--region 0.005] [--photos]
"""

from __future__ import annotations

import argparse
import base64
import io
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
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
    _summary,
    choose_keeper,
    is_link,
)
from lookalike.signals.duplicate.copies import (  # noqa: E402
    CopyHit,
    find_copies,
    record_copy_query,
    stored_colours,
    stored_features,
)
from lookalike.signals.duplicate.localfeatures import LocalFeatures  # noqa: E402
from lookalike.signals.duplicate.localfeatures.verification import fit  # noqa: E402
from lookalike.store.base import CollectionStore, StoredPoint, scroll_all  # noqa: E402

GRID = 32
APART = 0.75


def _into(
    image: np.ndarray, frame: np.ndarray, corners: list[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """``image`` warped into ``frame``'s size by a fit's ``corners`` (the query's own, mapped
    through the flip when it matched mirrored), and the mask (255) of where it lands."""
    hq, wq = image.shape[:2]
    hh, wh = frame.shape[:2]
    src = np.array([[0, 0], [wq, 0], [wq, hq], [0, hq]], np.float32)
    dst = np.array([[x * wh, y * hh] for x, y in corners], np.float32)
    warp = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(image, warp, (wh, hh), flags=cv2.INTER_AREA)
    inside = cv2.warpPerspective(
        np.full((hq, wq), 255, np.uint8), warp, (wh, hh), flags=cv2.INTER_NEAREST
    )
    return warped, inside


def disagreement(first: np.ndarray, second: np.ndarray, hit: CopyHit) -> float | None:
    """Share of the overlap's grid cells where ``first`` (warped by the hit's transform) and
    ``second`` differ; None for a link without geometry (a hash link)."""
    m = hit.match
    if m is None or not m.candidate_corners:
        return None
    warped, inside = _into(first, second, m.candidate_corners)
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


REGION_BLUR = 1.5
"""Sigma (pixels of the thumbnail) of the blur before the region's comparison."""
REGION_APART = 1.0
"""Standard deviations apart at which two pixels disagree."""
REGION_DISC = 7
"""Diameter of the disc that opens the disagreeing pixels: misaligned edges, noise and thin
strokes go, a region such as an emblem stays."""


def largest_region(
    first: np.ndarray, second: np.ndarray, corners: list[tuple[float, float]]
) -> float:
    """Share of the overlap held by the largest connected region where ``first`` (an RGB
    thumbnail, warped into ``second``'s frame by the fitted transform's ``corners``) and
    ``second`` disagree, in grey levels normalised over the overlap."""
    grey = [cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32) for im in (first, second)]
    warped, inside = _into(grey[0], second, corners)
    overlap = cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0
    n = int(overlap.sum())
    if n < 100:
        return 1.0
    a, b = (cv2.GaussianBlur(im, (0, 0), REGION_BLUR) for im in (warped, grey[1]))
    a = (a - a[overlap].mean()) / (a[overlap].std() + 1e-3)
    b = (b - b[overlap].mean()) / (b[overlap].std() + 1e-3)
    apart = ((np.abs(a - b) > REGION_APART) & overlap).astype(np.uint8)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (REGION_DISC, REGION_DISC))
    opened = cv2.morphologyEx(apart, cv2.MORPH_OPEN, disc)
    count, _, stats, _ = cv2.connectedComponentsWithStats(opened)
    return float(stats[1:, cv2.CC_STAT_AREA].max()) / n if count > 1 else 0.0


COVERAGE_AT_LEAST = (0.3, 0.4, 0.5, 0.6, 0.7)


def hull_coverage(features: LocalFeatures, inliers: np.ndarray, radius: float) -> float:
    """Share of ``features``' keypoints inside the convex hull of its inlier keypoints that lie
    within ``radius`` (a fraction of the diagonal) of an inlier."""
    points = features.points.astype(np.float64)
    chosen = points[inliers]
    hull = cv2.convexHull(chosen.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    if len(hull) < 3:
        return 1.0
    edges = np.roll(hull, -1, axis=0) - hull
    rel = points[:, None, :] - hull[None, :, :]
    cross = edges[None, :, 0] * rel[:, :, 1] - edges[None, :, 1] * rel[:, :, 0]
    slack = 1e-6 * float(np.hypot(features.width, features.height))
    inside = np.all(cross >= -slack * np.hypot(edges[:, 0], edges[:, 1]), axis=1) | np.all(
        cross <= slack * np.hypot(edges[:, 0], edges[:, 1]), axis=1
    )
    if not inside.any():
        return 1.0
    near = radius * float(np.hypot(features.width, features.height))
    d2 = ((points[inside][:, None, :] - chosen[None, :, :]) ** 2).sum(axis=2)
    return float((d2.min(axis=1) <= near * near).mean())


def near_share(
    features: LocalFeatures, inliers: np.ndarray, among: np.ndarray, radius: float
) -> float:
    """Share of the keypoints ``among`` (a mask) within ``radius`` (a fraction of the diagonal)
    of an inlier keypoint."""
    if not among.any():
        return 1.0
    points = features.points.astype(np.float64)
    near = radius * float(np.hypot(features.width, features.height))
    d2 = ((points[among][:, None, :] - points[inliers][None, :, :]) ** 2).sum(axis=2)
    return float((d2.min(axis=1) <= near * near).mean())


def _in_frame(points: np.ndarray, h: np.ndarray, width: int, height: int) -> np.ndarray:
    mapped = np.hstack([points, np.ones((len(points), 1))]) @ h.T
    w = mapped[:, 2]
    ok = w > 1e-9
    xy = mapped[:, :2] / np.where(ok, w, 1.0)[:, None]
    inside = ok & (xy[:, 0] >= 0) & (xy[:, 0] <= width) & (xy[:, 1] >= 0) & (xy[:, 1] <= height)
    return np.asarray(inside, dtype=bool)


def coverages(
    query: LocalFeatures | None, candidate: LocalFeatures | None, radius: float
) -> dict[str, tuple[float, float]] | None:
    """The inliers' coverage in the query and in the candidate, at ``radius`` (a fraction of
    the diagonal): ``hull``, of the keypoints inside their hull; ``overlap``, of those inside
    the overlap (the part of each image the fitted transform puts inside the other)."""
    if query is None or candidate is None:
        return None
    found = fit(query, candidate)
    if found is None:
        return None
    homography, q_inliers, c_inliers, _ = found
    q = query.points.astype(np.float64)
    if query.mirrored:
        q[:, 0] = query.width - q[:, 0]
    q_in = _in_frame(q, homography, candidate.width, candidate.height)
    c_in = _in_frame(
        candidate.points.astype(np.float64), np.linalg.inv(homography), query.width, query.height
    )
    return {
        "hull": (
            hull_coverage(query, q_inliers, radius),
            hull_coverage(candidate, c_inliers, radius),
        ),
        "overlap": (
            near_share(query, q_inliers, q_in, radius),
            near_share(candidate, c_inliers, c_in, radius),
        ),
    }


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


@dataclass
class Measured:
    """One link as a record's search found it, and what the rules measure of it."""

    a: str
    b: str
    apart: float | None
    """Photometric: share of cells apart (None for a link without geometry)."""
    cover: dict[str, tuple[float, float]] | None
    """Per measure (:func:`coverages`), the inliers' coverage in each image (None for a link
    without geometry)."""
    by_hash: bool
    """The hash alone makes it a link."""
    region: float | None = None
    """:func:`largest_region` (None for a link without geometry)."""

    def coverage(self, measure: str, combine: Callable[[Any], float] = min) -> float | None:
        return None if self.cover is None else combine(self.cover[measure])


Rule = Callable[[Measured], bool]


class Links:
    """The links of a collection, found as ``Collection.duplicates`` finds them."""

    def __init__(self, store: CollectionStore, threshold: float, radius: float) -> None:
        self.store = store
        self.threshold = threshold
        self.radius = radius
        self.points: dict[str, StoredPoint] = {
            p.id: p for p in scroll_all(store, page=128, with_vectors=True)
        }
        payloads = {p.id: p.payload for p in store.retrieve(list(self.points))}
        self.thumbs = {i: _thumbnail(payloads[i]) for i in self.points}
        self.summaries = {i: _summary(p) for i, p in self.points.items()}
        self.measured: list[Measured] = []

    def hits(self, rid: str, where: Node) -> list[Measured]:
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
        colours = stored_colours(point.payload)
        out = []
        for h in found:
            if not is_link(h, self.threshold, colours):
                continue
            by_hash = is_link(replace(h, match=None), self.threshold, colours)
            geometric = h.match is not None and h.match.score >= self.threshold
            cover = None
            if geometric and h.match is not None:
                own = query.mirrored_features() if h.match.mirrored else query.features
                cover = coverages(own, stored_features(h.payload), self.radius)
            corners = h.match.candidate_corners if geometric and h.match is not None else None
            out.append(
                Measured(
                    rid,
                    h.id,
                    disagreement(self.thumbs[rid], self.thumbs[h.id], h),
                    cover,
                    by_hash,
                    largest_region(self.thumbs[rid], self.thumbs[h.id], corners)
                    if corners
                    else None,
                )
            )
        return out

    def collect(self) -> None:
        for rid in self.points:
            self.measured.extend(self.hits(rid, Not(HasIds((rid,)))))

    def graph(self, rule: Rule) -> dict[str, set[str]]:
        links: dict[str, set[str]] = defaultdict(set)
        for m in self.measured:
            if rule(m):
                links[m.a].add(m.b)
                links[m.b].add(m.a)
        return links

    def stars(self, group: list[str], links: dict[str, set[str]], rule: Rule) -> list[list[str]]:
        """``group`` cut into clusters whose members each link directly to its kept image."""
        if len(group) < 2:
            return [group]
        keeper = choose_keeper(group, self.summaries, ORIGINAL, self.store)
        inside = [keeper] + [
            m for m in group if m != keeper and self.linked(m, keeper, links, rule)
        ]
        out = [inside]
        for rest in components([m for m in group if m not in inside], links):
            out.extend(self.stars(rest, links, rule))
        return out

    def linked(self, a: str, b: str, links: dict[str, set[str]], rule: Rule) -> bool:
        """``a`` and ``b`` linked by the searches, or verified directly now, either way."""
        if b in links[a]:
            return True
        return any(rule(m) for m in self.hits(a, HasIds((b,)))) or any(
            rule(m) for m in self.hits(b, HasIds((a,)))
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


def spread(label: str, values: list[float]) -> str:
    p: list[float] = list(np.percentile(values, [0, 10, 50, 90, 100])) if values else []
    return f"  {label:<22} {len(values):>4}: min, p10, median, p90, max " + " ".join(
        f"{x:.3f}" for x in p
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cut", type=float, default=0.15, help="photometric: most cells apart")
    parser.add_argument(
        "--radius", type=float, default=0.06, help="coverage: radius, of the diagonal"
    )
    parser.add_argument(
        "--measure", default="overlap", choices=("hull", "overlap"), help="of the star rule"
    )
    parser.add_argument("--combine", default="max", choices=("min", "max"))
    parser.add_argument(
        "--least", type=float, default=0.5, help="coverage: least of the star rules"
    )
    parser.add_argument(
        "--region", type=float, default=0.005, help="region: largest share of the overlap"
    )
    parser.add_argument("--photos", action="store_true", help="the region on real copies too")
    args = parser.parse_args()
    folder, pairs = build(120, 20, 40, 3, 0)
    truth = {frozenset(p) for p in pairs}

    def photometric(m: Measured) -> bool:
        return m.apart is None or m.apart <= args.cut

    def covered(measure: str, combine: Callable[[Any], float], least: float) -> Rule:
        def rule(m: Measured) -> bool:
            value = m.coverage(measure, combine)
            return m.by_hash or value is None or value >= least

        return rule

    def everything(m: Measured) -> bool:
        return True

    measures = ["hull", "overlap"]
    combines: list[tuple[str, Callable[[Any], float]]] = [("min", min), ("max", max)]
    rules: list[tuple[str, Rule, bool]] = [
        ("today", everything, False),
        ("photometric", photometric, False),
        ("star", everything, True),
        ("star + photometric", photometric, True),
    ]
    for measure in measures:
        for cname, combine in combines:
            for least in COVERAGE_AT_LEAST:
                rule = covered(measure, combine, least)
                rules.append((f"{measure} {cname} >= {least:.1f}", rule, False))
    star_rule = covered(args.measure, max if args.combine == "max" else min, args.least)
    rules.append(("star + coverage", star_rule, True))

    def small_region(m: Measured) -> bool:
        return m.region is None or m.region <= args.region

    rules.append((f"region <= {args.region}", small_region, False))
    with indexed(folder) as coll:
        links = Links(coll.store, coll.copy_threshold, args.radius)
        links.collect()
        nodes = list(links.points)
        results = []
        for name, rule, star in rules:
            graph = links.graph(rule)
            groups = components(nodes, graph)
            if star:
                groups = [g for c in groups for g in links.stars(c, graph, rule)]
            results.append((name, groups))
    print(
        f"{len(nodes)} images, {len(truth)} true pairs; photometric cut {args.cut}; "
        f"coverage radius {args.radius}; star + coverage: {args.measure} {args.combine} "
        f">= {args.least}"
    )
    for name, groups in results:
        print(f"  {name:<26} {score(groups, truth)}")
    geometric = [m for m in links.measured if m.apart is not None]
    true = [m for m in geometric if frozenset((m.a, m.b)) in truth]
    false = [m for m in geometric if frozenset((m.a, m.b)) not in truth]
    print("cells apart over a link's overlap (geometric links, each way):")
    for label, chosen in (("true links", true), ("false links", false)):
        print(spread(label, [m.apart for m in chosen if m.apart is not None]))
    print("largest region apart, share of the overlap (geometric links, each way):")
    for label, chosen in (("true links", true), ("false links", false)):
        print(spread(label, [m.region for m in chosen if m.region is not None]))
    agree = {
        frozenset((m.a, m.b)) for m in false if m.region is not None and m.region <= args.region
    }
    print(f"  false links at most {args.region}: {len(agree)} distinct pairs")
    for measure in measures:
        for cname, combine in combines:
            print(
                f"inliers' coverage of their {measure}, r {args.radius} of the diagonal, the "
                f"{cname} of the two images (geometric links, each way; * also by the hash):"
            )
            for label, chosen in (("true links", true), ("false links", false)):
                values = [v for m in chosen if (v := m.coverage(measure, combine)) is not None]
                print(spread(label, values))
            by_transform: dict[str, list[float]] = defaultdict(list)
            for m in true:
                value = m.coverage(measure, combine)
                if value is not None:
                    copy = m.a if "~" in m.a else m.b
                    by_transform[copy.split("~", 1)[1].rsplit(".", 1)[0]].append(value)
            print(
                "    true, least per transform: "
                + ", ".join(f"{k} {min(v):.2f}" for k, v in sorted(by_transform.items()))
            )
            by_kind: dict[str, list[float]] = defaultdict(list)
            for m in false:
                value = m.coverage(measure, combine)
                if value is not None:
                    by_kind[" + ".join(sorted(kind(i) for i in (m.a, m.b)))].append(value)
            for k, values in sorted(by_kind.items()):
                print(spread(f"false {k}", values))
            lows = sorted(
                (v, m.a, m.b, m.by_hash)
                for m in true
                if (v := m.coverage(measure, combine)) is not None
            )[:3]
            print(
                "    lowest true: "
                + "; ".join(f"{a} / {b} {v:.2f}{'*' if h else ''}" for v, a, b, h in lows)
            )
    missing = sum(1 for m in geometric if m.cover is None)
    if missing:
        print(f"({missing} geometric links not fitted again: kept by the coverage rules)")
    if args.photos:
        photo_regions(args.region)


def photo_regions(cut: float) -> None:
    """The region of every copy of the copy benchmark's originals that verifies above the
    threshold against its original (thumbnails as a record keeps them), per transform."""
    from copydays import build as build_copies
    from lookalike.images import decode
    from lookalike.signals.duplicate.localfeatures import (
        COPY_THRESHOLD,
        extract,
        extract_mirrored,
        extract_query,
        verify,
    )

    def thumb(image: Image.Image) -> np.ndarray:
        small = image.convert("RGB")
        small.thumbnail((256, 256))
        return np.asarray(small)

    copies = build_copies()
    records: dict[str, tuple[LocalFeatures, np.ndarray]] = {}
    regions: dict[str, list[float]] = defaultdict(list)
    for q in copies.queries:
        if q.expected is None:
            continue
        if q.expected not in records:
            image = decode((copies.index_dir / q.expected).read_bytes(), min_side=512).image
            records[q.expected] = (extract(image), thumb(image))
        record, record_thumb = records[q.expected]
        image = decode(q.path.read_bytes(), min_side=512).image
        found = [verify(extract_query(image)[0], record), verify(extract_mirrored(image), record)]
        match = max((m for m in found if m is not None), key=lambda m: m.score, default=None)
        if match is not None and match.score >= COPY_THRESHOLD:
            regions[q.transform].append(
                largest_region(thumb(image), record_thumb, match.candidate_corners)
            )
    print(f"copies verified above the threshold whose largest region exceeds {cut}:")
    for transform, values in regions.items():
        over = sum(1 for v in values if v > cut)
        print(f"  {transform:<11} {over:>3} of {len(values):>3}   (max {max(values):.3f})")


if __name__ == "__main__":
    main()
