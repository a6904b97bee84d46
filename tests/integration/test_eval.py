"""Evaluations through the Python API on labelled sets of real photos: the figures agree with
the hits each query got, query images are never searched, and a rerun resumes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lookalike import Engine, Settings
from lookalike.evaluation import QuerySpec, Variant
from tests.support.eval_sets import GROUPS, distractor, transformed_set

pytestmark = pytest.mark.slow


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    folder = transformed_set(tmp_path / "set")
    distractor(folder)
    return folder


@pytest.fixture
def eval_engine(tmp_path: Path, tiny_model: Path) -> Iterator[Engine]:
    settings = Settings(
        data_dir=tmp_path / "eval-data", offline=True, default_model=str(tiny_model)
    )
    with Engine(settings) as engine:
        yield engine


BOTH = {"signals": "semantic,duplicate"}
VARIANTS = [
    Variant("semantic", create=BOTH, search={"signal": "semantic"}),
    Variant("duplicate", create=BOTH, search={"signal": "duplicate"}),
]


def _top1_by_hand(queries: list[dict[str, Any]]) -> float:
    """From the raw hits: the share of queries whose first hit is of the query's group."""
    right = [q for q in queries if q["hits"] and q["hits"][0]["group"] == q["group"]]
    return len(right) / len(queries)


def test_first_protocol_on_a_labelled_folder(eval_engine: Engine, labelled: Path) -> None:
    report = eval_engine.evaluate(labelled, VARIANTS, protocol="first", top_k=5)
    assert (report.images, report.groups, report.queries) == (21, 5, 5)
    assert [v.name for v in report.variants] == ["semantic", "duplicate"]
    # one collection serves both: same data, same create options
    assert report.variants[0].collection == report.variants[1].collection
    queries = {f"{g}/0-original.jpg" for g in GROUPS}
    for variant in report.to_dict()["variants"]:
        assert {q["query"] for q in variant["queries"]} == queries
        for q in variant["queries"]:
            returned = {h["id"] for h in q["hits"]}
            assert not returned & queries  # query images are never in the catalog
            groups = [h["group"] for h in q["hits"]]
            assert len(groups) == len(set(groups))  # one hit per group
        top1 = variant["summary"]["accuracy"]["top1"]
        assert top1 == pytest.approx(_top1_by_hand(variant["queries"]))
    # copies under resizing, recompression and cropping are found first by the copy signal
    dup = report.variants[1]
    assert dup.summary.accuracy[1] == 1.0 and dup.failures() == []
    assert dup.threshold is not None and dup.threshold.threshold == 0.75


def test_rerun_resumes_from_the_state_files(
    eval_engine: Engine, labelled: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    first = eval_engine.evaluate(labelled, VARIANTS[1:], protocol="leave-one-out", state_dir=state)
    assert first.variants[0].resumed == 0 and first.queries == 20
    (file,) = state.iterdir()
    lines = file.read_text().splitlines()
    file.write_text("\n".join(lines[:8]) + "\n" + lines[8][:20])  # cut short mid-line
    again = eval_engine.evaluate(labelled, VARIANTS[1:], protocol="leave-one-out", state_dir=state)
    assert again.variants[0].resumed == 7
    assert (
        again.to_dict(with_queries=True)["variants"][0]["queries"]
        == (first.to_dict()["variants"][0]["queries"])
    )
    other = eval_engine.evaluate(
        labelled, VARIANTS[1:], protocol="leave-one-out", top_k=3, state_dir=state
    )
    assert other.variants[0].resumed == 0  # another configuration: nothing mixed in


def test_an_existing_collection_by_its_groups_and_by_a_queries_file(
    eval_engine: Engine, labelled: Path, tmp_path: Path
) -> None:
    coll = eval_engine.create_collection("shop", signals="duplicate")
    coll.index([labelled], group_by_folder=True)
    report = coll.evaluate(protocol="leave-one-out", rank_by="record", top_k=5)
    assert report.queries == 20 and report.rank_by == "record"
    variant = report.variants[0]
    # three other copies of each photo to find: recall@3 is the share of them in the first 3
    for q in variant.results:
        assert q.relevant == 3
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        json.dumps({"image": "set/chelsea/0-original.jpg", "group": "chelsea"})
        + "\n"
        + json.dumps({"id": "coffee/1-small.jpg", "expected": ["coffee/0-original.jpg"]})
        + "\n"
    )
    by_file = coll.evaluate(queries, top_k=5)
    assert by_file.protocol == "queries" and by_file.rank_by == "record"
    results = {r.query: r for r in by_file.variants[0].results}
    assert set(results) == {str(labelled / "chelsea/0-original.jpg"), "coffee/1-small.jpg"}
    assert results["coffee/1-small.jpg"].relevant == 1
    assert results[str(labelled / "chelsea/0-original.jpg")].relevant == 4


def test_a_changed_answer_key_is_not_resumed(
    eval_engine: Engine, labelled: Path, tmp_path: Path
) -> None:
    coll = eval_engine.create_collection("shop", signals="duplicate")
    coll.index([labelled], group_by_folder=True)
    state = tmp_path / "state.jsonl"

    def top1(expected: str) -> tuple[float, int]:
        query = QuerySpec("coffee/1-small.jpg", id="coffee/1-small.jpg", expected=(expected,))
        variant = coll.evaluate([query], state_file=state).variants[0]
        return variant.summary.accuracy[1], variant.resumed

    assert top1("chelsea/0-original.jpg") == (0.0, 0)
    # the old ranking was scored against another answer key: run again, not resumed
    assert top1("coffee/0-original.jpg") == (1.0, 0)
    assert top1("coffee/0-original.jpg") == (1.0, 1)
