"""Which members of a copy cluster are framed or cropped copies of another member.

A copy padded with a border, rotated with its corners filled, or photographed off a screen shows
another member's whole picture inside a larger frame whose remainder is flat. Resolution cannot
tell it from its original (the padded copy often has more pixels), and a flat-colour measure of
one image alone cannot either (a photo's own sky or wall is as flat as a border). The pair can:
verification maps one member's frame into the other, and the part of the other's frame that the
mapped picture does not reach either holds keypoints (picture the first member lacks: it is a
crop) or none at all (fill: the other member is framed). A remainder with a few keypoints
(a photo's own plain sky beside a crop of it) decides nothing.

The test uses only what a record keeps (its keypoints and their frame), so it needs neither the
image files nor a re-index.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from lookalike.signals.duplicate.localfeatures import LocalFeatures, Match, verify
from lookalike.signals.duplicate.localfeatures.keypoints import EDGE_PIXELS, work_scale

if TYPE_CHECKING:
    from numpy.typing import NDArray

GRID = 128
"""Cells along the longer side of the raster the frames are compared on."""
SEAM = 0.015
"""Band around the mapped picture left out of the remainder (fraction of the longer side): the
seam between picture and fill has corners of its own, and the mapping is not exact."""
MIN_REMAINDER = 0.02
"""Remainders smaller than this share of the frame are no frame."""
MIN_POINTS = 20
"""Keypoints needed inside the mapped picture for a density to mean anything."""
MIN_EXPECTED = 12.0
"""Keypoints the remainder would hold at the picture's density: fewer, and an empty remainder
is no evidence."""
FLAT = 0.03
"""A remainder with under this share of the picture's keypoint density is fill. Measured on the
benchmark photos (``benchmarks/keep_rule.py``, 40 photos): the borders, rotation corners and
screen surrounds held none but once (0.024); the rest of a photo around a crop of it mostly
0.2 to 1.5 times the density of the crop's part, but 0.05 to 0.08 around a crop cut from a
blurred or plain background, and 0 around one of a page's text or a bird against the sky."""
PICTURE = 0.3
"""A remainder with at least this share of the picture's keypoint density is picture: the
member mapped into it is a crop."""


def remainder_density(inner: LocalFeatures, outer: LocalFeatures, match: Match) -> float | None:
    """Keypoint density of the part of ``outer``'s frame that does not show ``inner``'s picture,
    relative to the density where it does (``match``: ``inner`` verified against ``outer``).
    None when there is no such part to speak of, or too few points to tell."""
    import cv2

    quad = np.array(match.candidate_corners, dtype=np.float64)
    if quad.shape != (4, 2) or not np.all(np.isfinite(quad)):
        return None
    scale = GRID / max(outer.width, outer.height)
    gw, gh = max(1, round(outer.width * scale)), max(1, round(outer.height * scale))
    cells = np.rint(quad * (gw, gh)).astype(np.int32)
    picture = np.zeros((gh, gw), np.uint8)
    cv2.fillConvexPoly(picture, cells, 1)
    seam = max(1, round(SEAM * GRID))
    near = cv2.dilate(picture, np.ones((2 * seam + 1, 2 * seam + 1), np.uint8)) > 0
    # No keypoint is ever found in the band along the edge: it counts on neither side.
    edge = max(1, int(np.ceil((EDGE_PIXELS + 1) / work_scale(outer.width, outer.height) * scale)))
    usable = np.zeros((gh, gw), bool)
    usable[edge : gh - edge, edge : gw - edge] = True
    inside = (picture > 0) & usable
    remainder = usable & ~near
    if remainder.sum() < MIN_REMAINDER * gw * gh or not inside.any():
        return None
    counts = _counts(outer.points, scale, gw, gh)
    n_inside = float(counts[inside].sum())
    if n_inside < MIN_POINTS:
        return None
    expected = n_inside / float(inside.sum()) * float(remainder.sum())
    if expected < MIN_EXPECTED:
        return None
    return float(counts[remainder].sum()) / expected


def judge(features: Mapping[str, LocalFeatures]) -> tuple[dict[str, str], dict[str, str]]:
    """The members that are framed copies and those that are crops, each with the member it
    frames or was cut from.

    Every pair is verified once; a pair that does not verify (flipped, or linked by the hash
    alone) says nothing."""
    framed: dict[str, str] = {}
    cropped: dict[str, str] = {}
    for a, b in combinations(sorted(features), 2):
        fa, fb = features[a], features[b]
        match = verify(fa, fb)
        if match is None:
            continue
        reverse = _reverse(match, fa, fb)
        for inner, outer, m in ((a, b, match), (b, a, reverse)):
            if m is None:
                continue
            density = remainder_density(features[inner], features[outer], m)
            if density is None:
                continue
            if density < FLAT:
                framed.setdefault(outer, inner)
            elif density >= PICTURE:
                cropped.setdefault(inner, outer)
    return framed, cropped


def _reverse(match: Match, a: LocalFeatures, b: LocalFeatures) -> Match | None:
    """The match seen from ``b``: ``b``'s corners mapped into ``a``."""
    import cv2

    src = np.array([[0, 0], [a.width, 0], [a.width, a.height], [0, a.height]], np.float32)
    dst = (np.array(match.candidate_corners, np.float64) * (b.width, b.height)).astype(np.float32)
    try:
        forward = cv2.getPerspectiveTransform(src, dst)
        back = np.linalg.inv(np.asarray(forward, dtype=np.float64))
    except (cv2.error, np.linalg.LinAlgError):
        return None
    corners = np.array([[0, 0], [b.width, 0], [b.width, b.height], [0, b.height]], np.float64)
    mapped = _project(back, corners)
    if mapped is None:
        return None
    return Match(
        score=match.score,
        inliers=match.inliers,
        query_box=match.candidate_box,
        candidate_box=match.query_box,
        candidate_corners=[(float(x) / a.width, float(y) / a.height) for x, y in mapped],
        mirrored=match.mirrored,
    )


def _project(h: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.float64] | None:
    mapped = np.hstack([points, np.ones((len(points), 1))]) @ h.T
    w = mapped[:, 2]
    if not np.all(np.isfinite(mapped)) or np.any(w <= 1e-9):
        return None
    return np.asarray(mapped[:, :2] / w[:, None], dtype=np.float64)


def _counts(points: NDArray[np.float32], scale: float, gw: int, gh: int) -> NDArray[np.int64]:
    """Keypoints per raster cell."""
    counts = np.zeros((gh, gw), np.int64)
    if len(points):
        x = np.clip((points[:, 0] * scale).astype(np.intp), 0, gw - 1)
        y = np.clip((points[:, 1] * scale).astype(np.intp), 0, gh - 1)
        np.add.at(counts, (y, x), 1)
    return counts
