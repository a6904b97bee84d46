"""The evaluation's figures on a small case worked out by hand, and its protocols' choices."""

from __future__ import annotations

import re
import sys

import pytest

from lookalike.errors import BadInput, MissingExtra
from lookalike.evaluation import (
    EvalReport,
    Hit,
    Labelled,
    QueryResult,
    VariantResult,
    at_threshold,
    plan,
    precision_recall_curve,
    summarize,
    threshold_for_precision,
)
from lookalike.evaluation.report import render_html
from lookalike.evaluation.table import comparison


def _q(name: str, relevant: int, *hits: tuple[float, bool]) -> QueryResult:
    return QueryResult(
        name, "g", relevant, tuple(Hit(f"{name}-{n}", s, r) for n, (s, r) in enumerate(hits))
    )


# Three queries, records ranked (R right, N wrong):
#   q1: 2 right answers to find;  R .90, N .80, R .70  -> rank 1, AP (1/1 + 2/3) / 2 = 5/6
#   q2: 1 right answer;           N .85, N .60, R .50  -> rank 3, AP (1/3) / 1 = 1/3
#   q3: 3 right answers;          N .95, N .40, N .30  -> not found, AP 0
CASE = [
    _q("q1", 2, (0.90, True), (0.80, False), (0.70, True)),
    _q("q2", 1, (0.85, False), (0.60, False), (0.50, True)),
    _q("q3", 3, (0.95, False), (0.40, False), (0.30, False)),
]


def test_summary_matches_the_hand_computed_case() -> None:
    s = summarize(CASE, [1, 3])
    assert s.queries == 3
    assert s.accuracy[1] == pytest.approx(1 / 3)  # only q1 right at rank 1
    assert s.accuracy[3] == pytest.approx(2 / 3)  # q1 and q2 within 3
    assert s.recall[1] == pytest.approx((1 / 2 + 0 + 0) / 3)
    assert s.recall[3] == pytest.approx((2 / 2 + 1 / 1 + 0 / 3) / 3)
    assert s.map == pytest.approx((5 / 6 + 1 / 3 + 0) / 3)  # 7/18
    assert s.mrr == pytest.approx((1 / 1 + 1 / 3 + 0) / 3)  # 4/9


def test_threshold_precision_and_recall_by_hand() -> None:
    # at 0.70: .95N .90R .85N .80N .70R -> 2 right of 5; 2 of the 6 right answers there were
    point = at_threshold(CASE, 0.70)
    assert (point.true, point.false) == (2, 3)
    assert point.precision == pytest.approx(2 / 5)
    assert point.recall == pytest.approx(2 / 6)


def test_precision_recall_curve_and_threshold_for_a_precision() -> None:
    curve = precision_recall_curve(CASE)
    assert [p.threshold for p in curve] == [0.95, 0.90, 0.85, 0.80, 0.70, 0.60, 0.50, 0.40, 0.30]
    assert [round(p.precision, 4) for p in curve] == [
        round(x, 4) for x in (0 / 1, 1 / 2, 1 / 3, 1 / 4, 2 / 5, 2 / 6, 3 / 7, 3 / 8, 3 / 9)
    ]
    # 50 %: only the matches from 0.90 up reach it (1 right of 2), recall 1/6
    best = threshold_for_precision(CASE, 0.5)
    assert best is not None and best.threshold == 0.90
    assert best.recall == pytest.approx(1 / 6)
    assert threshold_for_precision(CASE, 0.99) is None


def test_ties_make_one_point() -> None:
    results = [_q("a", 1, (0.8, True), (0.8, False))]
    curve = precision_recall_curve(results)
    assert [(p.threshold, p.true, p.false) for p in curve] == [(0.8, 1, 1)]


def test_queries_with_nothing_to_find_do_not_count() -> None:
    s = summarize([*CASE, _q("q4", 0, (0.99, False))], [1])
    assert s.queries == 3 and s.accuracy[1] == pytest.approx(1 / 3)


ITEMS = [
    Labelled("a/1", "a"),
    Labelled("a/2", "a"),
    Labelled("a/3", "a"),
    Labelled("b/1", "b"),
    Labelled("b/2", "b"),
    Labelled("c/1", "c"),  # alone in its group: never a query
    Labelled("x", None),  # no group: a distractor
]


def test_first_protocol_queries_the_first_image_of_each_group() -> None:
    p = plan(ITEMS, "first")
    assert [(q.id, q.group, q.catalog_size) for q in p.queries] == [
        ("a/1", "a", 2),
        ("b/1", "b", 1),
    ]
    assert p.excluded == ("a/1", "b/1") and p.seed is None


def test_leave_one_out_queries_every_image_of_a_group_of_two_or_more() -> None:
    p = plan(ITEMS, "leave-one-out")
    assert [q.id for q in p.queries] == ["a/1", "a/2", "a/3", "b/1", "b/2"]
    assert p.excluded == ()
    assert {q.group: q.catalog_size for q in p.queries} == {"a": 2, "b": 1}


def test_split_is_fixed_by_its_seed_and_leaves_each_group_a_catalog() -> None:
    one = plan(ITEMS, "split", seed=7, query_fraction=0.5)
    again = plan(ITEMS, "split", seed=7, query_fraction=0.5)
    assert one == again and one.seed == 7
    by_group = {g: [q for q in one.queries if q.group == g] for g in ("a", "b")}
    assert len(by_group["a"]) == 2 and len(by_group["b"]) == 1  # round(3 * .5), at most n - 1
    assert set(one.excluded) == {q.id for q in one.queries}
    drawn = plan(ITEMS, "split")
    assert drawn.seed is not None  # a seed is drawn, and said
    assert plan(ITEMS, "split", seed=drawn.seed) == drawn


def test_a_set_without_groups_to_query_is_refused() -> None:
    with pytest.raises(BadInput, match="no group has two images"):
        plan([Labelled("a", "a"), Labelled("b", None)], "first")
    with pytest.raises(BadInput, match="protocol must be one of"):
        plan(ITEMS, "random")


def _report(precision: float) -> EvalReport:
    summary = summarize(CASE, [1, 3])
    variant = VariantResult(
        name="case",
        collection="c",
        config={"signals": ["semantic"]},
        search={},
        signal="semantic",
        results=CASE,
        summary=summary,
        threshold=None,
        target_precision=precision,
        for_precision=threshold_for_precision(CASE, precision),
    )
    return EvalReport("first", "record", 3, [1, 3], None, "set", 9, 3, [variant])


def test_the_report_is_one_page_with_the_threshold_to_use() -> None:
    page = render_html(_report(0.5), image_for=lambda _id, _source: None)
    assert "use 0.900 for 50.0% precision on your data" in page  # worked out above
    assert page.count("data:image/png;base64,") == 2
    assert "Failing queries (2 of 3)" in page  # q2 (right at #3) and q3 (not returned)
    assert "right answer at #3" in page and "right answer not returned" in page
    columns, rows = comparison(_report(0.5))
    row = dict(zip(columns, rows[0], strict=True))
    assert (row["top-1"], row["top-3"], row["R@1"], row["mAP"]) == (
        "33.3%",
        "66.7%",
        "16.7%",
        "0.389",
    )


def test_without_matplotlib_the_report_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    with pytest.raises(MissingExtra, match=re.escape('pip install "lookalike[eval]"')):
        render_html(_report(0.5), image_for=lambda _id, _source: None)
