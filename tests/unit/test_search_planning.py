"""How a query becomes a search and how results are ranked and fused, through the public
search of a collection on the embedded store in a temp folder, with the tiny CLIP-shaped
model: which queries are refused, what is left out, how filter, threshold, top_k and group cut
the ranking, ties ordered by record id, and reciprocal rank fusion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lookalike import Collection, Engine, Settings
from lookalike.errors import InvalidQuery, NotFound
from lookalike.scoring import RRF_K, reciprocal_rank_fusion
from tests.support.encoded import image_bytes

NAMES = ("astronaut", "camera", "chelsea", "coffee", "rocket", "retina")
KIND = {"astronaut": "people", "camera": "people", "chelsea": "animal"}


@pytest.fixture(scope="module")
def coll(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[Collection]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("planning") / "data", offline=True)
    with Engine(settings) as engine:
        c = engine.create_collection("c", signals="semantic,duplicate", model=str(tiny_model))
        items = [
            {
                "id": name,
                "data": image_bytes(name, side=160),
                "metadata": {"kind": KIND.get(name, "thing"), "n": n},
                "group": KIND.get(name, "thing"),
            }
            for n, name in enumerate(NAMES)
        ]
        # the same picture under two more ids: equal scores to any query
        twin = image_bytes("coffee", side=160)
        items += [{"id": i, "data": twin, "group": "twin"} for i in ("z-twin", "a-twin")]
        assert c.add(items).indexed == len(items)
        yield c


def _ids(results: list) -> list[str]:  # type: ignore[type-arg]
    return [r.id for r in results]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"text": "x", "id": "rocket"}, "not text and id"),
        ({}, "give an image"),
        ({"text": "x", "signal": "duplicate"}, "semantic"),
        ({"vector": [0.5, 0.5]}, "needs"),
    ],
)
def test_queries_a_search_cannot_plan_are_refused_saying_why(
    coll: Collection, query: dict[str, object], words: str
) -> None:
    with pytest.raises(InvalidQuery, match=words):
        coll.search(**query)  # type: ignore[arg-type]


def test_unknown_records_in_a_query_are_not_found(coll: Collection) -> None:
    for query in ({"id": "nope"}, {"positive": ["rocket", "nope"]}):
        with pytest.raises(NotFound, match="nope"):
            coll.search(**query)  # type: ignore[arg-type]


def test_an_image_query_ranks_best_first_and_scores_other_signals_when_asked(
    coll: Collection,
) -> None:
    query = image_bytes("rocket", side=160)
    results = coll.search(image=query, top_k=len(NAMES) + 2)
    assert results[0].id == "rocket" and set(results[0].scores) == {"semantic"}
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    asked = coll.search(image=query, top_k=len(NAMES) + 2, scores=["duplicate"])
    assert [(r.id, r.score) for r in asked] == [(r.id, r.score) for r in results]
    assert all(set(r.scores) == {"semantic", "duplicate"} for r in asked)


def test_a_text_query_scores_only_the_semantic_signal(coll: Collection) -> None:
    results = coll.search(text="a cup of coffee", top_k=3)
    assert len(results) == 3 and all(set(r.scores) == {"semantic"} for r in results)


def test_the_query_record_and_the_examples_are_left_out(coll: Collection) -> None:
    everyone = len(NAMES) + 2
    by_id = _ids(coll.search(id="rocket", top_k=everyone))
    assert "rocket" not in by_id and len(by_id) == everyone - 1
    examples = _ids(coll.search(positive=["chelsea"], negative=["camera"], top_k=everyone))
    assert {"chelsea", "camera"}.isdisjoint(examples) and len(examples) == everyone - 2


def test_filter_threshold_top_k_and_group_cut_the_same_ranking(coll: Collection) -> None:
    query = image_bytes("astronaut", side=160)
    everything = coll.search(image=query, top_k=20)
    people = coll.search(image=query, filter={"kind": "people"}, top_k=20)
    assert _ids(people) == [r.id for r in everything if r.id in ("astronaut", "camera")]
    cut = everything[3].score
    above = coll.search(image=query, threshold=cut, top_k=20)
    assert _ids(above) == [r.id for r in everything if r.score >= cut]
    assert _ids(coll.search(image=query, top_k=2)) == _ids(everything)[:2]
    grouped = coll.search(image=query, group=True, top_k=20)
    groups = [coll.get(r.id)["group"] for r in grouped]
    assert len(groups) == len(set(groups))  # one result per group, the group's best
    best_of = {}
    for r in everything:
        best_of.setdefault(coll.get(r.id)["group"], r.id)
    assert _ids(grouped) == list(best_of.values())


def test_equal_scores_are_ordered_by_record_id(coll: Collection) -> None:
    same = ["a-twin", "coffee", "z-twin"]  # one picture under three ids: equal scores
    for query in ({"text": "coffee"}, {"image": image_bytes("rocket", side=160)}):
        ids = _ids(coll.search(top_k=20, **query))  # type: ignore[arg-type]
        first = ids.index("a-twin")
        assert ids[first : first + 3] == same, (query, ids)
    by_record = _ids(coll.search(id="z-twin", top_k=20))
    assert by_record[:2] == ["a-twin", "coffee"]  # the best score, tied


def test_fusion_counts_the_rank_in_each_list_not_the_scores() -> None:
    semantic = ["a", "b", "c"]
    text = ["c", "d"]
    fused = reciprocal_rank_fusion([semantic, text])
    assert set(fused) == {"a", "b", "c", "d"}
    assert fused["c"] == pytest.approx(1 / (RRF_K + 3) + 1 / (RRF_K + 1))
    assert max(fused, key=lambda i: fused[i]) == "c"  # in both lists beats first in one
    assert fused["a"] == pytest.approx(1 / (RRF_K + 1))
    assert fused["b"] == fused["d"] == pytest.approx(1 / (RRF_K + 2))  # second in either list
    assert reciprocal_rank_fusion([text, semantic]) == fused  # the lists' order does not count
    assert reciprocal_rank_fusion([]) == {}


def test_a_group_scores_by_its_best_photo_or_the_mean_of_its_best_photos() -> None:
    from lookalike.search import Query, _by_group
    from lookalike.signals.base import Found

    def found(rid: str, group: str, score: float) -> Found:
        return Found(rid, score, {"group": group})

    ranked = [  # best first, as a signal answers
        found("a1", "A", 0.9),
        found("c1", "C", 0.85),
        found("b1", "B", 0.8),
        found("b2", "B", 0.75),
        found("b3", "B", 0.7),
        found("b4", "B", 0.6),
        found("a2", "A", 0.2),
        found("a3", "A", 0.1),
    ]
    best = _by_group(ranked, Query(text="x", group=True))
    assert [(f.id, f.score) for f in best] == [("a1", 0.9), ("c1", 0.85), ("b1", 0.8)]
    mean = _by_group(ranked, Query(text="x", group=True, group_score="mean"))
    # B: (0.8 + 0.75 + 0.7) / 3 = 0.75; A: (0.9 + 0.2 + 0.1) / 3 = 0.4; C: 0.85 / 3 = 0.2833
    assert [f.id for f in mean] == ["b1", "a1", "c1"]
    assert [f.score for f in mean] == pytest.approx([0.75, 0.4, 0.85 / 3])
    two = _by_group(ranked, Query(text="x", group=True, group_score="mean", group_top=2))
    # B: 0.775, A: 0.55, C: 0.425
    assert [f.id for f in two] == ["b1", "a1", "c1"]
    cut = _by_group(ranked, Query(text="x", group=True, group_score="mean", threshold=0.3))
    assert [f.id for f in cut] == ["b1", "a1"]  # C's mean is below the threshold


def test_mean_group_scores_agree_with_the_ungrouped_ranking(coll: Collection) -> None:
    query = image_bytes("coffee", side=160)
    every = coll.search(image=query, signal="semantic", top_k=100)
    by_group: dict[str, list[float]] = {}
    for r in every:
        by_group.setdefault(r.group or f"id:{r.id}", []).append(r.score)
    grouped = coll.search(image=query, signal="semantic", group=True, group_score="mean", top_k=10)
    expected = {g: sum(s[:3]) / 3 for g, s in by_group.items()}
    assert len(grouped) == len(expected)
    for r in grouped:
        assert r.score == pytest.approx(expected[r.group or f"id:{r.id}"], abs=1e-6)
    assert [r.score for r in grouped] == sorted((r.score for r in grouped), reverse=True)
    with pytest.raises(InvalidQuery, match="group_score"):
        coll.search(image=query, group=True, group_score="median")
    with pytest.raises(InvalidQuery, match="group_top"):
        coll.search(image=query, group=True, group_score="mean", group_top=0)
