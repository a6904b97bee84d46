"""The report's plots, drawn with matplotlib (the ``eval`` extra) into PNG bytes.

Figures are made with matplotlib's object API (``Figure`` and its Agg canvas), never pyplot,
so that drawing a report changes no global state of the process it runs in."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lookalike.errors import MissingExtra
from lookalike.evaluation.metrics import QueryResult, ThresholdPoint, precision_recall_curve

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["pr_curve_png", "require_plots", "score_histogram_png"]

EXTRA_HINT = 'pip install "lookalike[eval]"'


def require_plots() -> None:
    """Raise :class:`MissingExtra` now, before an evaluation's work, if the report could not
    draw its plots at the end."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise MissingExtra(
            f"the evaluation report draws its plots with matplotlib: {EXTRA_HINT}"
        ) from None


def _figure() -> Figure:
    require_plots()
    from matplotlib.figure import Figure

    return Figure(figsize=(5.2, 3.4), dpi=100, layout="constrained")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def score_histogram_png(results: Sequence[QueryResult], threshold: float | None) -> bytes:
    """Scores of the right and of the wrong matches returned, overlaid, with the threshold."""
    fig = _figure()
    ax: Any = fig.add_subplot()
    right = [h.score for r in results for h in r.hits if h.relevant]
    wrong = [h.score for r in results for h in r.hits if not h.relevant]
    bins = [i / 40 for i in range(41)]
    ax.hist(wrong, bins=bins, alpha=0.6, label=f"false matches ({len(wrong)})", color="#c0392b")
    ax.hist(right, bins=bins, alpha=0.6, label=f"true matches ({len(right)})", color="#2471a3")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f}")
    ax.set_xlabel("score")
    ax.set_ylabel("matches")
    ax.set_xlim(0, 1)
    ax.legend(loc="upper left", fontsize="small")
    return _png(fig)


def pr_curve_png(results: Sequence[QueryResult], chosen: ThresholdPoint | None) -> bytes:
    """Precision against recall as the score threshold falls, with the chosen point marked."""
    fig = _figure()
    ax: Any = fig.add_subplot()
    curve = precision_recall_curve(results)
    ax.plot([p.recall for p in curve], [p.precision for p in curve], color="#2471a3")
    if chosen is not None:
        ax.plot([chosen.recall], [chosen.precision], "o", color="black")
        ax.annotate(
            f"{chosen.threshold:.2f}",
            (chosen.recall, chosen.precision),
            textcoords="offset points",
            xytext=(6, -12),
        )
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    return _png(fig)
