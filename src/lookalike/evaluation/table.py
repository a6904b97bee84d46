"""The side-by-side table of configurations and the failure rows, as text cells: the terminal
and the HTML report show the same figures."""

from __future__ import annotations

from lookalike.evaluation.results import EvalReport, GroupFailures, VariantResult, instead

__all__ = ["FAILURE_COLUMNS", "comparison", "failure_rows", "threshold_advice"]


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def comparison(report: EvalReport) -> tuple[list[str], list[list[str]]]:
    """One row per configuration: top-k accuracies, recall@k (when records are ranked: with
    one hit per group it equals top-k accuracy), mAP, MRR, and the thresholds."""
    ks = report.ks
    recall = report.rank_by == "record"
    columns = ["configuration", "queries", *(f"top-{k}" for k in ks)]
    if recall:
        columns += [f"R@{k}" for k in ks]
    columns += ["mAP", "MRR", "P/R at threshold", f"threshold for {_target(report)} precision"]
    rows = []
    for v in report.variants:
        s = v.summary
        row = [v.name, str(s.queries), *(_pct(s.accuracy.get(k, 0.0)) for k in ks)]
        if recall:
            row += [_pct(s.recall.get(k, 0.0)) for k in ks]
        row += [f"{s.map:.3f}", f"{s.mrr:.3f}", _at_threshold(v), _for_precision(v)]
        rows.append(row)
    return columns, rows


def _target(report: EvalReport) -> str:
    targets = {v.target_precision for v in report.variants}
    return _pct(targets.pop()) if len(targets) == 1 else "the target"


def _at_threshold(v: VariantResult) -> str:
    t = v.threshold
    if t is None:
        return "-"
    return f"{_pct(t.precision)} / {_pct(t.recall)} at {t.threshold:.3g}"


def _for_precision(v: VariantResult) -> str:
    p = v.for_precision
    if p is None:
        return "none reaches it"
    return f"{p.threshold:.3f} (recall {_pct(p.recall)})"


def threshold_advice(v: VariantResult) -> str:
    """The sentence a user acts on: which threshold gives the precision they asked for."""
    target = _pct(v.target_precision)
    p = v.for_precision
    if p is None:
        return f"no score threshold reaches {target} precision on this data"
    return (
        f"use {p.threshold:.3f} for {target} precision on your data "
        f"(it keeps {_pct(p.recall)} of the right matches)"
    )


FAILURE_COLUMNS = ["group", "failed", "query", "right answer", "what came instead"]


def failure_rows(failures: list[GroupFailures], limit: int) -> list[list[str]]:
    """One row per failed query of the first ``limit`` groups: where its right answer was,
    and the wrong hits ranked above it."""
    rows = []
    for g in failures[:limit]:
        for n, r in enumerate(g.failed):
            came = ", ".join(f"{h.id} [{h.group or '-'}] {h.score:.2f}" for h in instead(r))
            where = f"#{r.rank}" if r.rank else "not returned"
            if r.error:
                where = f"query failed: {r.error}"
            first = n == 0
            rows.append(
                [
                    g.label if first else "",
                    f"{len(g.failed)}/{g.queries}" if first else "",
                    r.query,
                    where,
                    came or "nothing",
                ]
            )
    return rows
