"""What an evaluation answers: per configuration its figures, its failures by group, its score
threshold for a chosen precision; and the whole run's settings, to reproduce it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lookalike.evaluation.metrics import Hit, QueryResult, Summary, ThresholdPoint

__all__ = ["EvalReport", "GroupFailures", "VariantResult"]


@dataclass
class GroupFailures:
    """The queries of one group whose first hit was wrong, with what came instead."""

    group: str | None
    queries: int
    failed: list[QueryResult] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "(no group)" if self.group is None else self.group

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "queries": self.queries,
            "failed": [
                {
                    "query": r.query,
                    "rank": r.rank,
                    "error": r.error,
                    "instead": [h.to_dict() for h in instead(r)],
                }
                for r in self.failed
            ],
        }


def instead(result: QueryResult, limit: int = 3) -> list[Hit]:
    """The wrong hits ranked above the first right one (at most ``limit``)."""
    wrong: list[Hit] = []
    for hit in result.hits:
        if hit.relevant or len(wrong) >= limit:
            break
        wrong.append(hit)
    return wrong


@dataclass
class VariantResult:
    """One configuration (a collection, and how it is searched) and its figures."""

    name: str
    collection: str
    config: dict[str, Any]
    """The collection's configuration: signals, model, vector sizes."""
    search: dict[str, Any]
    """The search options every query used (signal, ...)."""
    signal: str
    results: list[QueryResult]
    summary: Summary
    threshold: ThresholdPoint | None
    """Precision and recall at the signal's configured threshold (copy and face signals) or
    the threshold asked for; None when there is none."""
    target_precision: float
    for_precision: ThresholdPoint | None
    """The lowest threshold reaching ``target_precision`` on this data, if any does."""
    resumed: int = 0
    """Queries whose results a previous run had recorded."""

    def failures(self) -> list[GroupFailures]:
        """Per group, the queries not answered right at rank 1; groups with most failures
        first."""
        groups: dict[str | None, GroupFailures] = {}
        for r in self.results:
            if r.relevant <= 0:
                continue
            row = groups.setdefault(r.group, GroupFailures(r.group, 0))
            row.queries += 1
            if r.rank != 1:
                row.failed.append(r)
        rows = [g for g in groups.values() if g.failed]
        return sorted(rows, key=lambda g: (-len(g.failed), str(g.group)))

    def to_dict(self, *, with_queries: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "collection": self.collection,
            "config": self.config,
            "search": self.search,
            "signal": self.signal,
            "summary": self.summary.to_dict(),
            "threshold": None if self.threshold is None else self.threshold.to_dict(),
            "target_precision": self.target_precision,
            "for_precision": None if self.for_precision is None else self.for_precision.to_dict(),
            "resumed": self.resumed,
            "failures": [g.to_dict() for g in self.failures()],
        }
        if with_queries:
            out["queries"] = [r.to_dict() for r in self.results]
        return out


@dataclass
class EvalReport:
    """A whole evaluation: the protocol, the data, and each configuration's result."""

    protocol: str
    rank_by: str
    top_k: int
    ks: list[int]
    seed: int | None
    dataset: str
    images: int
    groups: int
    variants: list[VariantResult]
    skipped: list[dict[str, str]] = field(default_factory=list)
    """Inputs that could not be read, each with why: left out of the evaluation."""
    command: str | None = None
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def queries(self) -> int:
        return max((v.summary.queries for v in self.variants), default=0)

    def to_dict(self, *, with_queries: bool = True) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "rank_by": self.rank_by,
            "top_k": self.top_k,
            "ks": self.ks,
            "seed": self.seed,
            "dataset": self.dataset,
            "images": self.images,
            "groups": self.groups,
            "queries": self.queries,
            "skipped": self.skipped,
            "command": self.command,
            "versions": self.versions,
            "variants": [v.to_dict(with_queries=with_queries) for v in self.variants],
        }
