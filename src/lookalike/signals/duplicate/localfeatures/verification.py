"""Geometric verification: do a query's keypoints agree on one transform into a candidate's?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from lookalike.scoring import Calibration
from lookalike.signals.duplicate.localfeatures.hamming import nearest_two
from lookalike.signals.duplicate.localfeatures.keypoints import LocalFeatures
from lookalike.types import COPY_THRESHOLD as COPY_THRESHOLD  # placed by CALIBRATION below

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Distinct inliers -> score. Measured (tests/integration/test_verification.py): of 2,964
#: pairs of a transformed copy against an unrelated photo or texture, 522 reach 3 distinct
#: inliers, 13 reach 4 and none 5; copies of textured photos have >= 8 under every transform
#: (the weakest: a 20 % corner crop of the cameraman's lawn), >= 32 under all but 20-30 % crops.
#: Five inliers are about as rare between unrelated pictures as the closest hash two of them get
#: (14 bits apart under the turns and flips: 0.686 in :data:`.hashes.CALIBRATION`; the queries of
#: benchmarks/copy_detection.py, with their 768 points, reach 5 or 6 in 5 of 360 negatives), so
#: they score above it: a 20 % crop verified by 5 to 7 points ranks above photos whose only tie
#: to it is a hash of little meaning, and stays below a copy's threshold.
CALIBRATION = Calibration.of(
    [(4.0, 0.0), (5.0, 0.7), (8.0, 0.75), (12.0, 0.9), (30.0, 0.97), (80.0, 1.0)]
)
MIN_INLIERS = 5
"""Below this many distinct inliers :func:`verify` reports no match at all."""

_RATIO = 0.8
_RANSAC_THRESHOLD = 0.01
"""Reprojection tolerance as a fraction of the candidate's longer side."""
_RANSAC_ITERS = 2000
_DISTINCT = 0.005
"""Inliers closer than this (fraction of the longer side) count once: ORB finds one corner at
several pyramid levels, and one chance agreement must not count three times."""
_MAX_SCALE = 12.0
_REFINE_MIN = 16
"""Fewer inliers than this keep the similarity: 8 free parameters fitted on a dozen points bend
the extrapolated corners of a 20 % crop by 5 % of the frame."""

Box = tuple[float, float, float, float]
Fitted = tuple["NDArray[np.float64]", "NDArray[np.intp]", "NDArray[np.intp]", int]
"""A transform, the inliers' indices among the query's and the candidate's points, and how
many distinct places they hold."""


@dataclass(frozen=True)
class Match:
    """A geometric match of a query against a candidate."""

    score: float
    """Calibrated to the shared scale: >= :data:`COPY_THRESHOLD` a copy, >= 0.90 certainly."""
    inliers: int
    """Distinct keypoint matches agreeing with the fitted transform."""
    query_box: Box
    """Matched region in the query, normalised (left, top, right, bottom)."""
    candidate_box: Box
    """The same region in the candidate, normalised."""
    candidate_corners: list[tuple[float, float]] = field(default_factory=list)
    """The query's corners (top-left, top-right, bottom-right, bottom-left) mapped into the
    candidate, normalised; may lie outside [0, 1] when the query extends past the candidate."""
    mirrored: bool = False
    """The query matched as a mirror image of the candidate."""


def verify(query: LocalFeatures, candidate: LocalFeatures) -> Match | None:
    """The geometric match of ``query`` in ``candidate``, or None when too few points agree."""
    found = fit(query, candidate)
    if found is None:
        return None
    transform, _, _, count = found
    homography = transform @ _mirror(query.width) if query.mirrored else transform
    return _describe(homography, count, query, candidate)


def fit(query: LocalFeatures, candidate: LocalFeatures) -> Fitted | None:
    """What RANSAC fits from the query's points (mirrored back when the query is a mirror image)
    into the candidate's (:data:`Fitted`; distinct places: the smaller count of the two images);
    None when too few agree."""
    if len(query) < MIN_INLIERS or len(candidate) < MIN_INLIERS:
        return None
    qi, ci = _match(query, candidate)
    return agree(query, candidate, qi, ci)


def agree(
    query: LocalFeatures,
    candidate: LocalFeatures,
    qi: NDArray[np.intp],
    ci: NDArray[np.intp],
) -> Fitted | None:
    """:func:`fit` for matches already made (query point ``qi[k]`` to candidate point
    ``ci[k]``): the geometry alone, so that matches from other descriptors are judged by the
    same rules (benchmarks/sift_crops.py)."""
    import cv2

    if len(qi) < MIN_INLIERS:
        return None
    src = query.points[qi].astype(np.float32)
    if query.mirrored:
        src[:, 0] = query.width - src[:, 0]
    dst = candidate.points[ci].astype(np.float32)
    tolerance = _RANSAC_THRESHOLD * max(candidate.width, candidate.height)
    affine, mask = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=tolerance,
        maxIters=_RANSAC_ITERS,
        confidence=0.999,
        refineIters=10,
    )
    if affine is None or mask is None:
        return None
    transform = np.vstack([np.asarray(affine, dtype=np.float64), [0.0, 0.0, 1.0]])
    inliers = mask.ravel().astype(bool)
    if not _plausible(transform, query, candidate):
        return None
    transform, inliers = _refine(transform, inliers, src, dst, tolerance, query, candidate)
    count = min(_distinct(src[inliers], query), _distinct(dst[inliers], candidate))
    if count < MIN_INLIERS:
        return None
    return transform, qi[inliers], ci[inliers], count


def _match(
    query: LocalFeatures, candidate: LocalFeatures
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Query/candidate indices of unambiguous nearest neighbours, one per candidate point."""
    return unambiguous(*nearest_two(query.signs, candidate.descriptors))


def unambiguous(
    nearest_distance: NDArray[np.integer] | NDArray[np.floating],
    second_distance: NDArray[np.integer] | NDArray[np.floating],
    nearest: NDArray[np.integer],
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Lowe's ratio test over each query point's two nearest candidate descriptors, then the
    nearest query point of each candidate point: the matches :func:`agree` is given."""
    ok = nearest_distance < _RATIO * second_distance
    qi = np.flatnonzero(ok)
    if len(qi) == 0:
        return qi, qi
    ci = nearest[ok].astype(np.intp)
    d = nearest_distance[ok]
    order = np.lexsort((d, ci))
    first = np.r_[True, ci[order][1:] != ci[order][:-1]]
    keep = np.sort(order[first])
    return qi[keep], ci[keep]


def _refine(
    fit: NDArray[np.float64],
    inliers: NDArray[np.bool_],
    src: NDArray[np.float32],
    dst: NDArray[np.float32],
    tolerance: float,
    query: LocalFeatures,
    candidate: LocalFeatures,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """A homography fitted on the similarity's inliers, when it explains at least as many.

    Perspective (a photographed screen) and uneven resizing bend a similarity; the homography is
    fitted only on points RANSAC already agreed on, so it cannot invent a degenerate match."""
    import cv2

    if inliers.sum() < _REFINE_MIN:
        return fit, inliers
    found, _ = cv2.findHomography(src[inliers], dst[inliers], 0)
    if found is None:
        return fit, inliers
    homography = np.asarray(found, dtype=np.float64)
    if not _plausible(homography, query, candidate):
        return fit, inliers
    projected = _project(homography, src.astype(np.float64))
    if projected is None:
        return fit, inliers
    better = np.linalg.norm(projected - dst, axis=1) < tolerance
    if better.sum() < inliers.sum():
        return fit, inliers
    return homography, better


def _plausible(h: NDArray[np.float64], query: LocalFeatures, candidate: LocalFeatures) -> bool:
    """The query frame maps to a convex, orientation-kept quad of sensible size."""
    quad = _project(h, _corners(query.width, query.height))
    if quad is None:
        return False
    edges = np.roll(quad, -1, axis=0) - quad
    turns = (
        edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, 0)[:, 0]
    )
    if not np.all(turns > 0):
        return False
    ratio = _area(quad) / float(candidate.width * candidate.height)
    return bool(1.0 / _MAX_SCALE**2 < ratio < _MAX_SCALE**2)


def _describe(
    h: NDArray[np.float64], count: int, q: LocalFeatures, c: LocalFeatures
) -> Match | None:
    import cv2

    quad = _project(h, _corners(q.width, q.height))
    if quad is None:
        return None
    oriented = quad if _signed_area(quad) > 0 else quad[::-1]
    frame = _corners(c.width, c.height)
    area, overlap = cv2.intersectConvexConvex(
        oriented.astype(np.float32), frame.astype(np.float32), handleNested=True
    )
    if area <= 0 or overlap is None or len(overlap) < 3:
        return None
    region = np.asarray(overlap, dtype=np.float64).reshape(-1, 2)
    back = _project(np.asarray(np.linalg.inv(h), dtype=np.float64), region)
    if back is None:
        return None
    return Match(
        score=CALIBRATION(float(count)),
        inliers=count,
        query_box=_box(back, q.width, q.height),
        candidate_box=_box(region, c.width, c.height),
        candidate_corners=[(float(x) / c.width, float(y) / c.height) for x, y in quad],
        mirrored=q.mirrored,
    )


def _distinct(points: NDArray[np.float32], features: LocalFeatures) -> int:
    cell = _DISTINCT * max(features.width, features.height)
    return len(np.unique(np.floor(points / cell).astype(np.int64), axis=0))


def _corners(width: int, height: int) -> NDArray[np.float64]:
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)


def _mirror(width: int) -> NDArray[np.float64]:
    return np.array([[-1.0, 0.0, float(width)], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _project(h: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """``points`` mapped by ``h``; None when one lands at or behind infinity."""
    ones = np.ones((len(points), 1))
    mapped = np.hstack([points, ones]) @ h.T
    w = mapped[:, 2]
    if not np.all(np.isfinite(mapped)) or np.any(w <= 1e-9):
        return None
    return np.asarray(mapped[:, :2] / w[:, None], dtype=np.float64)


def _signed_area(poly: NDArray[np.float64]) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _area(poly: NDArray[np.float64]) -> float:
    return abs(_signed_area(poly))


def _box(points: NDArray[np.float64], width: int, height: int) -> Box:
    lo = np.clip(points.min(axis=0) / (width, height), 0.0, 1.0)
    hi = np.clip(points.max(axis=0) / (width, height), 0.0, 1.0)
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
