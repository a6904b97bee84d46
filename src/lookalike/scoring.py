"""Score calibration: one monotone map per signal from raw similarity to a shared [0, 1] scale.

The shared scale (DESIGN.md, "Scores"): >= 0.90 the same photo, 0.75-0.90 very similar,
0.60-0.75 related. Each signal names its knots; the raw score between knots is interpolated
linearly, so the map is invertible and a user's threshold on the shared scale becomes a raw
threshold the store can apply itself.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from lookalike.errors import InvalidQuery


@dataclass(frozen=True)
class Calibration:
    """Piecewise-linear, non-decreasing map from raw similarity to the shared scale."""

    knots: tuple[tuple[float, float], ...]
    """(raw, score) pairs sorted by raw; scores non-decreasing, from 0.0 up to 1.0."""

    @classmethod
    def of(cls, knots: Sequence[tuple[float, float]]) -> Calibration:
        ordered = tuple(sorted((float(r), float(s)) for r, s in knots))
        scores = [s for _, s in ordered]
        if len(ordered) < 2 or scores != sorted(scores) or scores[0] != 0.0 or scores[-1] != 1.0:
            raise ValueError(f"calibration knots must rise from 0 to 1: {ordered}")
        return cls(ordered)

    def __call__(self, raw: float) -> float:
        raws = [r for r, _ in self.knots]
        if raw <= raws[0]:
            return 0.0
        if raw >= raws[-1]:
            return 1.0
        i = bisect_left(raws, raw)
        (r0, s0), (r1, s1) = self.knots[i - 1], self.knots[i]
        return s0 + (s1 - s0) * (raw - r0) / (r1 - r0)

    def inverse(self, score: float) -> float:
        """The smallest raw similarity that reaches ``score`` on the shared scale."""
        if score <= 0.0:
            return -1.0
        for (r0, s0), (r1, s1) in zip(self.knots, self.knots[1:], strict=False):
            if score == s1:
                return r1 if s0 < s1 else r0
            if s0 <= score < s1:
                return r0 + (r1 - r0) * ((score - s0) / (s1 - s0))
        return self.knots[-1][0]


SHOWN_DIGITS = 6
"""Scores are shown (JSON, CLI) rounded to this many decimals. A threshold compares with the
score as shown, so a score copied from a result as a threshold keeps that result."""


def reaches(score: float, threshold: float | None) -> bool:
    """Whether ``score`` (shared scale) reaches ``threshold`` as shown."""
    return threshold is None or round(score, SHOWN_DIGITS) >= threshold


def raw_threshold(calibration: Calibration, threshold: float | None) -> float | None:
    """The raw similarity a store can filter by for ``threshold``: a little below the exact
    inverse, so that a score rounding up to the threshold is kept (:func:`reaches` decides)."""
    if threshold is None:
        return None
    return calibration.inverse(threshold - 0.5 * 10.0**-SHOWN_DIGITS)


RRF_K = 60
"""Reciprocal rank fusion's constant: the usual 60, so the top few ranks of each list weigh
about alike."""


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    """Fuse ranked id lists: each id scores the sum of ``1 / (k + rank)`` over the lists that
    hold it (rank from 1). Only the order of each list counts, never its scores, so signals
    whose numbers are not comparable fuse fairly."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


IDENTITY = Calibration.of([(0.0, 0.0), (1.0, 1.0)])
"""For signals that only add fields and are never searched by score (moderation, EXIF)."""


def check_threshold(threshold: float | None) -> None:
    """Refuse a score threshold off the shared scale (NaN included): it would keep every
    pair or none, silently."""
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InvalidQuery(f"threshold is a score between 0 and 1, not {threshold}")
