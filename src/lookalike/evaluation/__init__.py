"""Measuring search quality on the user's own images (``lookalike eval``).

``protocols`` chooses queries and catalog, ``runner`` runs the queries (resumably), ``metrics``
turns ranked hits into figures, ``run`` ties them to collections and configurations,
``report`` writes the HTML report. The CLI and the REST route only call :mod:`.run`."""

from lookalike.evaluation.metrics import (
    Hit,
    QueryResult,
    Summary,
    ThresholdPoint,
    at_threshold,
    average_precision,
    first_rank,
    precision_recall_curve,
    recall_at,
    summarize,
    threshold_for_precision,
)
from lookalike.evaluation.protocols import PROTOCOLS, Labelled, Plan, QuerySpec, plan
from lookalike.evaluation.results import EvalReport, GroupFailures, VariantResult
from lookalike.evaluation.run import (
    DEFAULT_KS,
    Variant,
    evaluate_collection,
    evaluate_dataset,
    load_dataset,
    load_queries,
    versions,
)
from lookalike.evaluation.runner import RANK_BY

__all__ = [
    "DEFAULT_KS",
    "PROTOCOLS",
    "RANK_BY",
    "EvalReport",
    "GroupFailures",
    "Hit",
    "Labelled",
    "Plan",
    "QueryResult",
    "QuerySpec",
    "Summary",
    "ThresholdPoint",
    "Variant",
    "VariantResult",
    "at_threshold",
    "average_precision",
    "evaluate_collection",
    "evaluate_dataset",
    "first_rank",
    "load_dataset",
    "load_queries",
    "plan",
    "precision_recall_curve",
    "recall_at",
    "summarize",
    "threshold_for_precision",
    "versions",
]
