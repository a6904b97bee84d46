"""Whole-collection clean-up: near-duplicates grouped into clusters, a keeper picked in each.

Never compares all pairs: each record asks the store for its candidates (hash and visual-word
searches) and verifies a bounded few, so the work grows linearly with the collection. Linked
records are joined with union-find; the keeper of a cluster is chosen by a rule: by default
``original``, the largest member that is neither a framed copy nor a crop of another
(:mod:`.framing`).

A link needs the evidence of a copy, not of a look-alike: geometry verified by local features
at the threshold, or perceptual hashes within :data:`SAME_PICTURE_BITS` (recompressed and
resized copies) with the same colours (:data:`.hashes.COLOUR_LIMIT`). A hash score alone does
not link: graphics built on one template (flags of three bands, a family of icons) hash a few
bits apart, or not at all since the hash sees grey levels, while being different pictures, and a
single such link would chain two groups into one. Since every link is strong, union-find over them
never merges two groups through a weak one.
"""

from __future__ import annotations

import csv
import json
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lookalike.errors import BadInput
from lookalike.filters import HasIds, Not
from lookalike.scoring import check_threshold
from lookalike.signals.duplicate.copies import (
    CopyHit,
    find_copies,
    record_copy_query,
    stored_colours,
    stored_features,
)
from lookalike.signals.duplicate.framing import judge
from lookalike.signals.duplicate.hashes import CALIBRATION as HASH_CALIBRATION
from lookalike.signals.duplicate.hashes import HASH_BITS, colours_differ
from lookalike.store.base import CollectionStore, StoredPoint, scroll_all
from lookalike.types import KEEP_RULES, Member, Region
from lookalike.types import Cluster as Cluster

ORIGINAL = "original"
"""The default keep rule: the largest member that is neither a framed copy nor a crop of
another."""
COMPARED = 12
"""Members of a cluster compared pair by pair by the ``original`` rule (the largest ones): the
pairs verified grow with its square."""
NEIGHBOURS = 10
VERIFY = 4
"""Candidates verified per record: the top word and strong hash neighbours."""
AHEAD = 2
"""Records whose candidates are searched and verified at once while grouping."""
SAME_PICTURE_BITS = 2
"""Hash distance that links two records without verified geometry: recompressed, resized and
re-encoded copies stay within 2 bits of 64 (hashes.CALIBRATION), while different pictures on
one layout (tricolour flags) were measured 4 bits apart, and have too few keypoints to verify."""
_SAME_PICTURE = HASH_CALIBRATION(1 - 2 * SAME_PICTURE_BITS / HASH_BITS)


def is_link(hit: CopyHit, threshold: float, colours: bytes | None) -> bool:
    """Whether ``hit`` is evidence enough to put two records in one cluster; ``colours``: the
    querying record's colour grid (None for records indexed before it was kept: then the hash
    decides alone)."""
    if hit.match is not None and hit.match.score >= threshold:
        return True
    if hit.hash_distance is None or hit.hash_distance > SAME_PICTURE_BITS:
        return False
    return not colours_differ(colours, stored_colours(hit.payload))


@dataclass
class _Link:
    score: float
    other: str
    inliers: int | None
    hash_distance: int | None
    region: Region | None


def keep_key(rule: str) -> Callable[[dict[str, Any]], Any]:
    """Sort key of a rule: the record with the largest key is kept."""
    if rule in ("largest", ORIGINAL):
        return lambda p: ((p.get("width") or 0) * (p.get("height") or 0), p.get("byte_size") or 0)
    if rule == "least-compressed":
        return lambda p: (
            (p.get("byte_size") or 0) / max(1, (p.get("width") or 1) * (p.get("height") or 1))
        )
    if rule == "oldest":
        return lambda p: _negated(str(p.get("file_mtime") or p.get("indexed_at") or ""))
    field_name, _, direction = rule.rpartition(":")
    if not field_name or direction not in ("min", "max"):
        raise BadInput(
            f"unknown keep rule {rule!r}: use {', '.join(KEEP_RULES)} or FIELD:min / FIELD:max "
            "(e.g. metadata.price:min)"
        )
    sign = 1 if direction == "max" else -1

    def by_field(p: dict[str, Any]) -> Any:
        value: Any = p
        for part in field_name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (1, sign * value)
        return (0, 0)  # records without the field are kept last

    return by_field


def choose_keeper(
    ids: list[str], payloads: dict[str, dict[str, Any]], rule: str, store: CollectionStore
) -> str:
    """The member of a cluster to keep by ``rule``; for ``original``, the largest of those that
    are neither framed copies of another member (borders, filled rotation corners, a screen's
    surround) nor crops of one (:func:`.framing.judge`), the most bytes breaking ties."""
    key = keep_key(rule)
    ranked = sorted(ids)
    if rule != ORIGINAL:
        return max(ranked, key=lambda i: key(payloads[i]))
    compared = sorted(ranked, key=lambda i: key(payloads[i]), reverse=True)[:COMPARED]
    features = {}
    for point in store.retrieve(compared):
        found = stored_features(point.payload)
        if found is not None:
            features[point.id] = found
    framed, cropped = judge(features)
    return max(compared, key=lambda i: (i not in framed, i not in cropped, key(payloads[i])))


def _negated(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def find_clusters(
    store: CollectionStore,
    *,
    threshold: float,
    keep: str = ORIGINAL,
    progress: Callable[[int, int], None] | None = None,
) -> list[Cluster]:
    """Clusters of records that are copies of each other (score >= ``threshold``)."""
    keep_key(keep)  # an unknown rule or threshold fails before the work
    check_threshold(threshold)
    total = store.count()
    parent: dict[str, str] = {}
    best: dict[str, _Link] = {}
    payloads: dict[str, dict[str, Any]] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def copies_of(point: StoredPoint) -> list[CopyHit]:
        query = record_copy_query(point.payload, point.vectors)
        if query is None:
            return []
        return find_copies(
            store,
            query,
            limit=NEIGHBOURS,
            filter=Not(HasIds((point.id,))),
            threshold=threshold,
            max_verify=VERIFY,
            verify_below=max(threshold, _SAME_PICTURE),
            likely_only=False,  # a picture's copies beyond its likely few are links too
        )

    points = scroll_all(store, page=128, with_vectors=True)
    for done, (point, hits) in enumerate(_ahead(copies_of, points), start=1):
        payloads[point.id] = _summary(point)
        colours = stored_colours(point.payload)
        for hit in hits:
            if not is_link(hit, threshold, colours):
                continue
            parent[root(hit.id)] = root(point.id)
            m = hit.match
            inliers = m.inliers if m is not None else None
            for rid, other, region in (
                (hit.id, point.id, m.candidate_box if m is not None else None),
                (point.id, hit.id, m.query_box if m is not None else None),
            ):
                if rid not in best or hit.score > best[rid].score:
                    rounded = None if region is None else _region(region)
                    best[rid] = _Link(hit.score, other, inliers, hit.hash_distance, rounded)
        if progress is not None:
            progress(done, total)
    groups: dict[str, list[str]] = {}
    for rid in best:
        groups.setdefault(root(rid), []).append(rid)
    clusters = []
    for ids in groups.values():
        keeper = choose_keeper(ids, payloads, keep, store)
        members = [
            Member(
                id=i,
                source=payloads[i].get("source"),
                role="keep" if i == keeper else "copy",
                score=round(best[i].score, 6),
                width=payloads[i].get("width"),
                height=payloads[i].get("height"),
                byte_size=payloads[i].get("byte_size"),
                linked_to=best[i].other,
                inliers=best[i].inliers,
                hash_distance=best[i].hash_distance,
                region=best[i].region,
            )
            for i in sorted(ids, key=lambda i: (i != keeper, i))
        ]
        clusters.append(Cluster(keeper, members))
    clusters.sort(key=lambda c: (-len(c.members), c.keep))
    return clusters


def _ahead(
    work: Callable[[StoredPoint], list[CopyHit]], points: Iterator[StoredPoint]
) -> Iterator[tuple[StoredPoint, list[CopyHit]]]:
    """Each point with ``work(point)``, in the points' order, the next :data:`AHEAD` points'
    searches running meanwhile: one record's store search then overlaps another's verification
    (which runs on the verification pool), where one at a time left a core idle. The order of
    the results, and so the clusters, are those of one at a time."""
    pending: deque[tuple[StoredPoint, Future[list[CopyHit]]]] = deque()
    with ThreadPoolExecutor(AHEAD, thread_name_prefix="group") as pool:
        try:
            for point in points:
                pending.append((point, pool.submit(work, point)))
                if len(pending) > AHEAD:
                    first, future = pending.popleft()
                    yield first, future.result()
            while pending:
                first, future = pending.popleft()
                yield first, future.result()
        finally:
            for _, future in pending:  # an error or a caller that stopped: no more searches
                future.cancel()


def _region(box: tuple[float, float, float, float]) -> Region:
    left, top, right, bottom = (round(float(v), 4) + 0.0 for v in box)
    return (left, top, right, bottom)


def _summary(point: StoredPoint) -> dict[str, Any]:
    p = point.payload
    return {
        k: p.get(k)
        for k in (
            "source",
            "width",
            "height",
            "byte_size",
            "file_mtime",
            "indexed_at",
            "metadata",
            "group",
        )
    }


def write_report(clusters: list[Cluster], path: Path, *, threshold: float, keep: str) -> None:
    """A JSON report, or CSV when ``path`` ends in .csv (one row per member)."""
    if path.suffix.lower() == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(
                ["cluster", "id", "role", "score", "linked_to", "inliers", "hash_distance"]
                + ["region", "source", "width", "height", "byte_size"]
            )
            for n, cluster in enumerate(clusters, 1):
                for m in cluster.members:
                    writer.writerow(
                        [n, m.id, m.role, m.score, m.linked_to, m.inliers, m.hash_distance]
                        + [_region_text(m.region), m.source, m.width, m.height, m.byte_size]
                    )
        return
    data = {
        "threshold": threshold,
        "keep": keep,
        "clusters": [
            {"keep": c.keep, "copies": c.copies, "members": [asdict(m) for m in c.members]}
            for c in clusters
        ],
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _region_text(region: Region | None) -> str:
    return "" if region is None else " ".join(f"{v:g}" for v in region)
