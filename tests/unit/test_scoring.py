"""Calibration maps: validation, monotonicity, range, inverse, and the package's own knots."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.models.specs import CLIP_B32_IMAGE, CLIP_B32_TEXT
from lookalike.scoring import (
    SHOWN_DIGITS,
    Calibration,
    raw_threshold,
    reaches,
    reciprocal_rank_fusion,
)
from lookalike.signals import duplicate, text

REAL = {
    "duplicate": duplicate.CALIBRATION,
    "semantic-image": CLIP_B32_IMAGE,
    "semantic-text": CLIP_B32_TEXT,
    "text": text.CALIBRATION,
}
SYNTHETIC = {
    "two-knots": Calibration.of([(0.0, 0.0), (1.0, 1.0)]),
    # An interior plateau: every raw in [0.2, 0.6] scores 0.5.
    "plateau": Calibration.of([(0.0, 0.0), (0.2, 0.5), (0.6, 0.5), (1.0, 1.0)]),
    "uneven": Calibration.of([(-0.4, 0.0), (-0.1, 0.05), (0.5, 0.6), (0.55, 0.95), (2.0, 1.0)]),
}
ALL = {**REAL, **SYNTHETIC}

# Raw values well past both ends of every calibration's knots, dense around and between them.
GRID = np.concatenate(
    [[-np.inf, -1e9, -5.0, -1.0000001], np.linspace(-3.0, 3.0, 20_001), [1.0000001, 5.0, 1e9]]
)
GRID = np.concatenate([GRID, [np.inf], *([r for r, _ in c.knots] for c in ALL.values())])
GRID.sort()
SCORES = np.linspace(0.0, 1.0, 2_001)[1:]  # (0, 1]


def test_of_sorts_knots_by_raw() -> None:
    cal = Calibration.of([(1, 1), (0, 0), (0.5, 0.3)])
    assert cal.knots == ((0.0, 0.0), (0.5, 0.3), (1.0, 1.0))
    assert all(isinstance(v, float) for knot in cal.knots for v in knot)


@pytest.mark.parametrize(
    "knots",
    [
        pytest.param([], id="empty"),
        pytest.param([(0.5, 0.0)], id="single-zero"),
        pytest.param([(0.5, 1.0)], id="single-one"),
        pytest.param([(0.0, 0.1), (1.0, 1.0)], id="starts-above-0"),
        pytest.param([(0.0, 0.0), (1.0, 0.9)], id="ends-below-1"),
        pytest.param([(0.0, 0.0), (1.0, 1.1)], id="ends-above-1"),
        pytest.param([(0.0, -0.1), (1.0, 1.0)], id="starts-below-0"),
        pytest.param([(0.0, 1.0), (1.0, 0.0)], id="falls"),
        pytest.param([(0.0, 0.0), (0.5, 0.8), (0.7, 0.6), (1.0, 1.0)], id="dips"),
        # Listed in score order, but sorted by raw the scores fall: 0, 0.7, 0.3, 1.
        pytest.param([(0.0, 0.0), (0.6, 0.3), (0.4, 0.7), (1.0, 1.0)], id="falls-by-raw"),
    ],
)
def test_of_rejects_knots_not_rising_from_0_to_1(knots: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError, match="rise from 0 to 1"):
        Calibration.of(knots)


@pytest.mark.parametrize("cal", ALL.values(), ids=ALL.keys())
def test_scores_stay_in_unit_range_and_never_fall_as_raw_rises(cal: Calibration) -> None:
    scores = np.array([cal(float(r)) for r in GRID])
    assert np.isfinite(scores).all()
    assert scores.min() == 0.0
    assert scores.max() == 1.0
    assert (np.diff(scores) >= 0.0).all(), GRID[1:][np.diff(scores) < 0.0]


@pytest.mark.parametrize("cal", ALL.values(), ids=ALL.keys())
def test_below_first_knot_is_0_and_above_last_knot_is_1(cal: Calibration) -> None:
    first, last = cal.knots[0][0], cal.knots[-1][0]
    for raw in (-np.inf, first - 10.0, first - 1e-9, first):
        assert cal(raw) == 0.0
    for raw in (last, last + 1e-9, last + 10.0, np.inf):
        assert cal(raw) == 1.0


@pytest.mark.parametrize("cal", ALL.values(), ids=ALL.keys())
def test_knots_are_hit(cal: Calibration) -> None:
    for raw, score in cal.knots:
        assert cal(raw) == pytest.approx(score, abs=1e-12)


@pytest.mark.parametrize("cal", REAL.values(), ids=REAL.keys())
def test_real_knots_are_hit_exactly(cal: Calibration) -> None:
    # Exactly, not approximately: a result sitting on a band edge (0.6, 0.75, 0.9) must not fall
    # one rounding step below a user's threshold.
    for raw, score in cal.knots:
        assert cal(raw) == score


def test_interpolates_linearly_between_knots() -> None:
    cal = SYNTHETIC["uneven"]
    assert cal(0.2) == pytest.approx(0.05 + 0.55 * (0.2 + 0.1) / 0.6)
    assert cal(0.525) == pytest.approx(0.775)
    assert cal(1.25) == pytest.approx(0.95 + 0.05 * (1.25 - 0.55) / 1.45)


@pytest.mark.parametrize("cal", ALL.values(), ids=ALL.keys())
def test_inverse_reaches_the_score(cal: Calibration) -> None:
    for s in SCORES:
        assert cal(cal.inverse(float(s))) == pytest.approx(s, abs=1e-9)


@pytest.mark.parametrize("cal", ALL.values(), ids=ALL.keys())
def test_inverse_is_the_smallest_raw_reaching_the_score(cal: Calibration) -> None:
    span = cal.knots[-1][0] - cal.knots[0][0]
    step = 1e-6 * span
    for s in SCORES:
        raw = cal.inverse(float(s))
        assert cal(raw - step) < s - 1e-12, (s, raw)


@pytest.mark.parametrize("cal", ALL.values(), ids=ALL.keys())
def test_inverse_never_falls_as_score_rises(cal: Calibration) -> None:
    raws = np.array([cal.inverse(float(s)) for s in SCORES])
    assert (np.diff(raws) >= 0.0).all()
    assert raws[-1] == cal.knots[-1][0]


def test_inverse_of_a_plateau_score_is_where_the_plateau_starts() -> None:
    assert SYNTHETIC["plateau"].inverse(0.5) == pytest.approx(0.2)


@pytest.mark.parametrize("cal", ALL.values(), ids=ALL.keys())
def test_inverse_of_zero_or_less_admits_every_cosine(cal: Calibration) -> None:
    assert cal.inverse(0.0) == -1.0
    assert cal.inverse(-0.5) == -1.0


@pytest.mark.parametrize("cal", REAL.values(), ids=REAL.keys())
def test_real_band_edges_invert_to_their_knots(cal: Calibration) -> None:
    knot_raw = {s: r for r, s in cal.knots}
    for edge in (0.6, 0.75, 0.9, 1.0):
        assert cal.inverse(edge) == knot_raw[edge]


@pytest.mark.parametrize("cal", REAL.values(), ids=REAL.keys())
def test_identical_maps_to_1(cal: Calibration) -> None:
    # Cosine 1.0 is an identical vector: the same hash, the same embedding.
    assert cal(1.0) == 1.0


@pytest.mark.parametrize("cal", REAL.values(), ids=REAL.keys())
def test_real_calibrations_rebuild_from_their_knots(cal: Calibration) -> None:
    assert Calibration.of(cal.knots) == cal
    assert all(-1.0 <= r <= 1.0 for r, _ in cal.knots)  # raw scores are cosines


def test_reciprocal_rank_fusion_rewards_agreement_and_uses_ranks_only() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
    assert max(fused, key=fused.__getitem__) == "b"  # second and first beats first alone
    assert fused["a"] > fused["c"] and fused["d"] > fused["c"]
    assert fused["b"] == 1 / 62 + 1 / 61
    assert reciprocal_rank_fusion([]) == {}


@pytest.mark.parametrize("name", sorted(ALL))
def test_a_score_as_shown_reaches_itself_as_a_threshold(name: str) -> None:
    cal = ALL[name]
    for raw in np.linspace(-1.0, 1.0, 4_001):
        score = cal(float(raw))
        shown = round(score, SHOWN_DIGITS)
        assert reaches(score, shown)
        floor = raw_threshold(cal, shown)
        assert floor is not None and floor <= raw
    assert reaches(0.3, None) and not reaches(0.5, 0.6) and raw_threshold(cal, None) is None
