"""Deterministic ranking: records with exactly equal scores come in record-id order, whatever
order the store keeps them in and wherever its limit cuts the tie."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from lookalike import ranking
from lookalike.config import Settings
from lookalike.filters import Node
from lookalike.scoring import reciprocal_rank_fusion
from lookalike.search import Query, Searcher
from lookalike.signals.duplicate import HASH_BITS, DuplicateSignal
from lookalike.store.base import Hit, StoredPoint, VectorQuery


class TieStore:
    """A store that ranks by dot product and orders equal scores by insertion order, as a
    real store orders them by its internal offsets, then cuts at ``limit``."""

    def __init__(self, points: Sequence[tuple[str, list[float]]]) -> None:
        self.points = list(points)
        self.asked: list[int] = []

    def _ranked(self, query: VectorQuery) -> list[Hit]:
        assert isinstance(query.vector, list)
        scored = [
            Hit(pid, sum(a * b for a, b in zip(query.vector, v, strict=True)), {}, {"v": v})
            for pid, v in self.points
        ]
        return sorted(scored, key=lambda h: -h.score)  # stable: ties stay in insertion order

    def search(
        self,
        query: VectorQuery,
        *,
        limit: int,
        filter: Node | None = None,
        score_threshold: float | None = None,
        with_vectors: bool = False,
        full_payload: bool = False,
    ) -> list[Hit]:
        self.asked.append(limit)
        hits = self._ranked(query)
        if score_threshold is not None:
            hits = [h for h in hits if h.score >= score_threshold]
        return hits[:limit]

    def search_batch(
        self,
        queries: Sequence[VectorQuery],
        *,
        limit: int,
        filter: Node | None = None,
        with_vectors: bool = False,
        score_thresholds: Sequence[float | None] | None = None,
        full_payload: bool = False,
    ) -> list[list[Hit]]:
        thresholds = list(score_thresholds or [None] * len(queries))
        return [
            [h for h in self._ranked(q) if t is None or h.score >= t][:limit]
            for q, t in zip(queries, thresholds, strict=True)
        ]

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[StoredPoint]:
        return []

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"search should not call store.{name}")


ONE = [1.0, 0.0]
HALF = [0.5, 0.0]
# Four records tie at 1.0 and two at 0.5; inserted in two different orders.
IDS = ["d", "b", "a", "c"]
FORWARD = [(i, ONE) for i in IDS] + [("z", HALF), ("y", HALF)]
BACKWARD = list(reversed(FORWARD))


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 6, 10])
def test_a_tie_cut_by_the_limit_keeps_the_smallest_ids_in_either_insertion_order(
    limit: int,
) -> None:
    expected = ["a", "b", "c", "d", "y", "z"][:limit]
    for points in (FORWARD, BACKWARD):
        hits = ranking.search(TieStore(points), VectorQuery("v", ONE), limit=limit)
        assert [h.id for h in hits] == expected


def test_a_wide_tie_is_read_in_whole_by_widening() -> None:
    points = [(f"r{i:03d}", ONE) for i in range(200, 0, -1)]
    store = TieStore(points)
    hits = ranking.search(store, VectorQuery("v", ONE), limit=3)
    assert [h.id for h in hits] == ["r001", "r002", "r003"]
    assert store.asked[0] == 4 and store.asked[-1] > 200


def test_batch_settles_each_query_like_a_single_search() -> None:
    queries = [VectorQuery("v", ONE), VectorQuery("v", HALF), VectorQuery("v", [0.0, 1.0])]
    for points in (FORWARD, BACKWARD):
        batch = ranking.search_batch(TieStore(points), queries, limit=2)
        single = [ranking.search(TieStore(points), q, limit=2) for q in queries]
        assert [[h.id for h in hits] for hits in batch] == [["a", "b"]] * 2 + [["a", "b"]]
        assert [[h.id for h in hits] for hits in batch] == [[h.id for h in s] for s in single]


def test_a_tie_below_its_floor_is_left_out_whole_without_a_wider_read() -> None:
    """Below ``settle_from`` a tie at the cut is not read wider, and no part of it is kept: the
    part the store returns would depend on the order the records were written in."""
    points = [("top", [2.0, 0.0])] + [(f"r{i:03d}", ONE) for i in range(50, 0, -1)]
    for order in (points, [points[0], *reversed(points[1:])]):
        store = TieStore(order)
        hits = ranking.search_batch(store, [VectorQuery("v", ONE)], limit=3, settle_from=[1.5])
        assert [h.id for h in hits[0]] == ["top"]
        assert store.asked == []
        settled = ranking.search_batch(store, [VectorQuery("v", ONE)], limit=3, settle_from=[1.0])
        assert [h.id for h in settled[0]] == ["top", "r001", "r002"]


def test_fused_ties_order_by_id() -> None:
    fusion = reciprocal_rank_fusion([["q", "p"], ["p", "q"]])
    assert fusion["p"] == fusion["q"]
    assert sorted(fusion, key=lambda i: ranking.rank_key(fusion[i], i)) == ["p", "q"]


@pytest.mark.parametrize("group", [False, True])
def test_a_search_answers_a_tie_alike_whatever_the_store_order(group: bool) -> None:
    """The failure seen on a fresh machine: two records with the same face tied at top_k=1."""
    signal = DuplicateSignal()
    same = [1.0] * HASH_BITS
    other = [1.0] * (HASH_BITS - 8) + [-1.0] * 8
    points = [("group.jpg", same), ("person_b_1.jpg", same), ("far.jpg", other)]
    answers = []
    for order in (points, points[::-1]):
        store = TieStore([(pid, v) for pid, v in order])
        searcher = Searcher(store, [signal], Settings(), lambda _: signal)
        found = searcher.search(
            Query(vector=same, signal="duplicate", top_k=1 if not group else 2, group=group)
        )
        answers.append([(r.id, r.score) for r in found])
    assert answers[0] == answers[1]
    assert answers[0][0] == ("group.jpg", 1.0)
