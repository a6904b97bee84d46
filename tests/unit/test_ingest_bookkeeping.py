"""What an ingest run records for each item, on the embedded store in a temp folder: one outcome
per item in input order, report counts that agree with the outcomes and the store, progress to
the end, a bad item costing that item only. The duplicate signal needs no model, so this runs
in a second or two."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lookalike import Collection, Engine, Settings
from lookalike.errors import BadInput
from tests.support.encoded import corrupt_jpeg, image_bytes

SIDE = 160


@pytest.fixture
def coll(tmp_path: Path) -> Iterator[Collection]:
    with Engine(Settings(data_dir=tmp_path / "data", offline=True)) as engine:
        yield engine.create_collection("c", signals="duplicate")


def _image(name: str) -> bytes:
    return image_bytes(name, side=SIDE)


def _tally(report: Any) -> Counter[str]:
    return Counter(o.status for o in report.outcomes)


def test_each_item_gets_its_outcome_in_input_order(coll: Collection) -> None:
    seen = []
    report = coll.add(
        [
            {"id": "rocket", "data": _image("rocket"), "metadata": {"n": 1}},
            {"id": "broken", "data": corrupt_jpeg()},
            {"id": "coffee", "data": _image("coffee"), "group": "drinks"},
            {"id": "empty", "data": b""},
        ],
        progress=seen.append,
    )
    assert [(o.index, o.id, o.status) for o in report.outcomes] == [
        (0, "rocket", "indexed"),
        (1, "broken", "failed"),
        (2, "coffee", "indexed"),
        (3, "empty", "failed"),
    ]
    assert report.outcomes[1].code == "bad_image" and report.outcomes[1].message
    assert report.indexed == 2 and len(report.failed) == 2
    assert sorted(f.code for f in report.failed) == [o.code for o in report.outcomes if o.code]
    assert seen and seen[-1].done == seen[-1].total == 4
    assert (seen[-1].indexed, seen[-1].failed) == (2, 2)
    assert coll.count() == 2
    assert coll.get("coffee")["group"] == "drinks"


def test_the_same_content_again_is_skipped_or_updated_and_counted(coll: Collection) -> None:
    first = coll.add([{"id": "a", "data": _image("rocket")}, {"id": "b", "data": _image("camera")}])
    assert first.indexed == 2
    again = coll.add(
        [
            {"id": "a", "data": _image("rocket")},  # unchanged
            {"id": "b", "data": _image("camera"), "metadata": {"k": 1}},  # new metadata
            {"id": "c", "data": _image("chelsea")},  # new
        ]
    )
    assert [o.status for o in again.outcomes] == ["skipped", "updated", "indexed"]
    tally = _tally(again)
    assert (again.skipped, again.updated, again.indexed) == (
        tally["skipped"],
        tally["updated"],
        tally["indexed"],
    )
    assert coll.get("b")["metadata"] == {"k": 1}
    assert coll.count() == 3


def test_a_copy_is_kept_flagged_left_out_or_refused_as_asked(coll: Collection) -> None:
    original = _image("astronaut")
    assert coll.add([{"id": "orig", "data": original}]).indexed == 1

    allowed = coll.add([{"id": "allowed", "data": original}])
    assert allowed.indexed == 1 and allowed.duplicates == []
    flagged = coll.add([{"id": "flagged", "data": original}], on_duplicate="flag")
    assert flagged.indexed == 1
    assert [d.id for d in flagged.duplicates] == ["flagged"]
    assert flagged.duplicates[0].duplicate_of in ("orig", "allowed")

    skipped = coll.add([{"id": "skipped", "data": original}], on_duplicate="skip")
    (outcome,) = skipped.outcomes
    assert outcome.status == "duplicate" and outcome.duplicate_of in ("orig", "allowed", "flagged")
    assert skipped.indexed == 0
    refused = coll.add([{"id": "refused", "data": original}], on_duplicate="reject")
    (outcome,) = refused.outcomes
    assert outcome.status == "failed" and outcome.code == "conflict"
    assert refused.indexed == 0 and len(refused.failed) == 1
    assert sorted(r["id"] for r in coll.list_records()[0]) == ["allowed", "flagged", "orig"]

    with pytest.raises(BadInput, match="on_duplicate"):
        coll.add([{"id": "x", "data": original}], on_duplicate="maybe")  # type: ignore[arg-type]


def test_an_id_given_twice_in_one_run_fails_the_second_alone(coll: Collection) -> None:
    report = coll.add(
        [{"id": "same", "data": _image("rocket")}, {"id": "same", "data": _image("coffee")}]
    )
    assert [o.status for o in report.outcomes] == ["indexed", "failed"]
    assert report.outcomes[1].code == "conflict"
    assert coll.count() == 1


def test_index_with_prune_removes_the_records_of_deleted_files(
    coll: Collection, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("rocket", "coffee", "camera"):
        (folder / f"{name}.jpg").write_bytes(_image(name))
    assert coll.index([folder]).indexed == 3
    (folder / "coffee.jpg").unlink()
    report = coll.index([folder], prune=True)
    assert (report.indexed, report.skipped, report.pruned) == (0, 2, 1)
    assert sorted(r["id"] for r in coll.list_records()[0]) == ["camera.jpg", "rocket.jpg"]
