"""Retrieval metrics over ranked results: top-k accuracy, recall@k, mAP, MRR, and the
precision and recall of a score threshold.

Pure functions of :class:`QueryResult` lists, so that they can be checked by hand on a small
case and reused by any runner. Every ranked list is cut at the ``top_k`` asked for: a relevant
record found below it counts as not found."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Hit",
    "QueryResult",
    "Summary",
    "ThresholdPoint",
    "at_threshold",
    "average_precision",
    "first_rank",
    "precision_recall_curve",
    "recall_at",
    "summarize",
    "threshold_for_precision",
]


@dataclass(frozen=True)
class Hit:
    """One returned record of a query, and whether it was a right answer."""

    id: str
    score: float
    relevant: bool
    group: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": round(self.score, 6),
            "relevant": self.relevant,
            "group": self.group,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Hit:
        return cls(
            id=str(d["id"]),
            score=float(d["score"]),
            relevant=bool(d["relevant"]),
            group=d.get("group"),
            source=d.get("source"),
        )


@dataclass(frozen=True)
class QueryResult:
    """What one query returned, best first, and how many right answers there were to find."""

    query: str
    """The query's label: a record id, or the path or URL of the query image."""
    group: str | None
    relevant: int
    """Right answers in the catalog (1 when groups are ranked: the query's own group)."""
    hits: tuple[Hit, ...] = ()
    source: str | None = None
    """The query image's path or URL, when known (the report shows it)."""
    error: str | None = None
    """Why the query could not run; such a query counts as found nowhere."""

    @property
    def rank(self) -> int | None:
        return first_rank(self.hits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "group": self.group,
            "relevant": self.relevant,
            "source": self.source,
            "rank": self.rank,
            "error": self.error,
            "hits": [h.to_dict() for h in self.hits],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QueryResult:
        return cls(
            query=str(d["query"]),
            group=d.get("group"),
            relevant=int(d["relevant"]),
            hits=tuple(Hit.from_dict(h) for h in d.get("hits", [])),
            source=d.get("source"),
            error=d.get("error"),
        )


def first_rank(hits: Sequence[Hit]) -> int | None:
    """The 1-based rank of the first right answer, or None when none was returned."""
    for n, hit in enumerate(hits, 1):
        if hit.relevant:
            return n
    return None


def recall_at(result: QueryResult, k: int) -> float:
    """Share of the query's right answers found in its first ``k`` hits."""
    if result.relevant <= 0:
        return 0.0
    found = sum(1 for h in result.hits[:k] if h.relevant)
    return min(1.0, found / result.relevant)


def average_precision(result: QueryResult) -> float:
    """Mean of the precision at the rank of each right answer, over all right answers there
    were to find (those not returned add 0)."""
    if result.relevant <= 0:
        return 0.0
    found, total = 0, 0.0
    for n, hit in enumerate(result.hits, 1):
        if hit.relevant:
            found += 1
            total += found / n
    return total / result.relevant


@dataclass(frozen=True)
class ThresholdPoint:
    """Precision and recall of the matches scoring at least ``threshold``."""

    threshold: float
    precision: float
    recall: float
    true: int
    false: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": round(self.threshold, 6),
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "true": self.true,
            "false": self.false,
        }


def _pairs(results: Iterable[QueryResult]) -> tuple[list[tuple[float, bool]], int]:
    results = list(results)
    pairs = [(h.score, h.relevant) for r in results for h in r.hits]
    return pairs, sum(max(r.relevant, 0) for r in results)


def at_threshold(results: Iterable[QueryResult], threshold: float) -> ThresholdPoint:
    """Every returned match scoring ``threshold`` or more taken as a "yes": how many of those
    were right (precision), and how many of all right answers they are (recall)."""
    pairs, total = _pairs(results)
    true = sum(1 for s, rel in pairs if s >= threshold and rel)
    false = sum(1 for s, rel in pairs if s >= threshold and not rel)
    precision = true / (true + false) if true + false else 1.0
    return ThresholdPoint(threshold, precision, true / total if total else 0.0, true, false)


def precision_recall_curve(results: Iterable[QueryResult]) -> list[ThresholdPoint]:
    """One point per distinct score returned, highest threshold first."""
    pairs, total = _pairs(results)
    pairs.sort(key=lambda p: -p[0])
    points: list[ThresholdPoint] = []
    true = false = 0
    for n, (score, relevant) in enumerate(pairs):
        true += relevant
        false += not relevant
        if n + 1 < len(pairs) and pairs[n + 1][0] == score:
            continue  # ties: one point once all of them are in
        recall = true / total if total else 0.0
        points.append(ThresholdPoint(score, true / (true + false), recall, true, false))
    return points


def threshold_for_precision(
    results: Iterable[QueryResult], precision: float
) -> ThresholdPoint | None:
    """The lowest threshold whose matches reach ``precision``: the most recall at that
    precision. None when no threshold reaches it."""
    best: ThresholdPoint | None = None
    for point in precision_recall_curve(results):
        if point.precision >= precision:
            best = point
    return best


@dataclass
class Summary:
    """The headline figures of one evaluated configuration."""

    queries: int
    accuracy: dict[int, float] = field(default_factory=dict)
    """Top-k accuracy: share of queries with a right answer in their first k hits."""
    recall: dict[int, float] = field(default_factory=dict)
    """Recall@k: mean share of each query's right answers in its first k hits."""
    map: float = 0.0
    mrr: float = 0.0
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            "errors": self.errors,
            "accuracy": {f"top{k}": round(v, 6) for k, v in self.accuracy.items()},
            "recall": {f"@{k}": round(v, 6) for k, v in self.recall.items()},
            "map": round(self.map, 6),
            "mrr": round(self.mrr, 6),
        }


def summarize(results: Sequence[QueryResult], ks: Sequence[int]) -> Summary:
    """Top-k accuracy and recall@k for each k, mAP and MRR, over queries that had a right
    answer to find."""
    scored = [r for r in results if r.relevant > 0]
    n = len(scored)
    summary = Summary(queries=n, errors=sum(1 for r in results if r.error))
    if not n:
        return summary
    for k in sorted(set(ks)):
        summary.accuracy[k] = sum(1 for r in scored if (r.rank or k + 1) <= k) / n
        summary.recall[k] = sum(recall_at(r, k) for r in scored) / n
    summary.map = sum(average_precision(r) for r in scored) / n
    summary.mrr = sum(1 / r.rank for r in scored if r.rank) / n
    return summary
