"""The searcher composes signals through their protocol: any signal, whatever its name, is
searched, fused and grouped alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from lookalike.config import Settings
from lookalike.errors import InvalidQuery
from lookalike.scoring import IDENTITY, Calibration
from lookalike.search import Query, Searcher
from lookalike.signals.base import Found, SignalQuery
from lookalike.store.base import Vector, VectorSpec


class ListedSignal:
    """A signal answering a fixed ranked list of (id, score, group)."""

    min_side = 1
    calibration = IDENTITY
    model_id = None

    def __init__(
        self,
        name: str,
        rows: Sequence[tuple[str, float, str | None]],
        *,
        takes: frozenset[str] = frozenset({"vector", "text"}),
        text_calibration: Calibration | None = IDENTITY,
    ) -> None:
        self.name = name
        self.rows = list(rows)
        self.takes = takes
        self.text_calibration = text_calibration
        self.limits: list[int] = []

    @staticmethod
    def preparer(decoded: Any) -> None:
        return None

    def vector_specs(self) -> list[VectorSpec]:
        return [VectorSpec(self.name, 2)]

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        return [{} for _ in prepared]

    def payload(self, prepared: Any) -> dict[str, Any]:
        return {}

    def search(self, query: SignalQuery, limit: int) -> list[Found]:
        self.limits.append(limit)
        return [
            Found(rid, score, {"group": group}, {self.name: score})
            for rid, score, group in self.rows[:limit]
        ]


def _searcher(*signals: ListedSignal) -> Searcher:
    named = {s.name: s for s in signals}
    return Searcher(None, list(signals), Settings(), named.__getitem__)  # type: ignore[arg-type]


def test_any_named_signal_is_searched_through_its_protocol() -> None:
    signal = ListedSignal("zebra", [("b", 0.9, None), ("a", 0.8, None)])
    found = _searcher(signal).search(Query(vector=[1.0, 0.0], signal="zebra", top_k=1))
    assert [(r.id, r.score, r.scores) for r in found] == [("b", 0.9, {"zebra": 0.9})]
    assert signal.limits == [1]


def test_a_text_query_fuses_every_signal_that_reads_texts_ties_by_id() -> None:
    words = ListedSignal("words", [("q", 0.9, None), ("p", 0.5, None), ("w", 0.4, None)])
    looks = ListedSignal("looks", [("p", 0.7, None), ("q", 0.6, None)])
    pixels = ListedSignal("pixels", [("x", 1.0, None)], text_calibration=None)
    found = _searcher(words, looks, pixels).search(Query(text="hello", top_k=3))
    # p and q each rank first once and second once: an exact tie, settled by id
    assert [r.id for r in found] == ["p", "q", "w"]
    assert found[0].scores == {"words": 0.5, "looks": 0.7} and found[0].score == 0.7
    assert found[1].scores == {"words": 0.9, "looks": 0.6} and found[1].score == 0.9
    assert pixels.limits == []


def test_grouping_widens_until_enough_groups_for_every_signal() -> None:
    rows = [(f"r{i:02d}", 1.0 - i / 100, "big") for i in range(20)] + [("z", 0.1, "small")]
    signal = ListedSignal("any", rows)
    found = _searcher(signal).search(Query(vector=[1.0, 0.0], top_k=2, group=True))
    assert [r.id for r in found] == ["r00", "z"]
    assert signal.limits == [8, 32]


def test_a_signal_is_refused_a_query_it_does_not_take() -> None:
    plain = ListedSignal("plain", [], takes=frozenset({"vector"}), text_calibration=None)
    with pytest.raises(InvalidQuery, match="text query"):
        _searcher(plain).search(Query(text="hello", signal="plain"))
    with pytest.raises(InvalidQuery, match="faces signal"):
        _searcher(plain).search(Query(vector=[1.0, 0.0], face=0, signal="plain"))
