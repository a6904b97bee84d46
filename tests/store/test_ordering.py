"""Sorted scrolling (``store.ordering``) on every backend: pages in order, with a cursor that
neither repeats nor skips a record, however the page size cuts runs of equal values."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from lookalike.errors import BadInput
from lookalike.filters import parse_filter
from lookalike.store import CollectionStore, Store
from lookalike.store.base import Order, StoredPoint, VectorSpec
from lookalike.store.ordering import ordered_page, parse_sort

SPECS = [VectorSpec("v", 2)]
START = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def stamp(minutes: int) -> str:
    return (START + timedelta(minutes=minutes, microseconds=250)).isoformat()


def records() -> list[StoredPoint]:
    """31 records: indexed in runs of five sharing a time; every third one without a capture
    time, one with a capture time that is no datetime, capture times in another offset."""
    out = []
    for i in range(31):
        payload: dict[str, object] = {"indexed_at": stamp(i // 5), "metadata": {"n": i}}
        if i % 3:
            taken = START - timedelta(days=i % 7, hours=i)
            payload["exif"] = {
                "taken_at": taken.astimezone(timezone(timedelta(hours=2))).isoformat()
            }
        if i == 30:
            payload["exif"] = {"taken_at": "last spring"}
        out.append(StoredPoint(f"r{i:02d}", payload, {"v": [1.0, float(i)]}))
    return out


@pytest.fixture
def coll(store: Store) -> Iterator[CollectionStore]:
    store.create_collection("c", SPECS, {"signals": ["duplicate"]})
    opened = store.open_collection("c")
    opened.upsert(records())
    yield opened
    opened.close()


def walk(coll: CollectionStore, order: Order, page: int, **kw: object) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        points, cursor = ordered_page(coll, order, limit=page, cursor=cursor, **kw)  # type: ignore[arg-type]
        assert len(points) <= page
        seen.extend(p.id for p in points)
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


def when(payload_value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(payload_value))
    except ValueError:
        return None


def value_of(point: StoredPoint, field: str) -> datetime | None:
    if field == "indexed_at":
        return when(point.payload.get("indexed_at"))
    exif = point.payload.get("exif")
    return when(exif.get("taken_at")) if isinstance(exif, dict) else None


@pytest.mark.parametrize("sort", ["-indexed_at", "indexed_at", "-taken_at", "taken_at"])
def test_sorted_pages_cover_every_record_once_in_order(coll: CollectionStore, sort: str) -> None:
    order = parse_sort(sort)
    whole = walk(coll, order, 1000)
    by_id = {p.id: p for p in records()}
    assert sorted(whole) == sorted(by_id)  # every record once, those without the field too
    values = [value_of(by_id[i], "indexed_at" if "indexed" in sort else "taken_at") for i in whole]
    dated = [v for v in values if v is not None]
    assert values[: len(dated)] == dated  # records without a (datetime) value come last
    assert dated == sorted(dated, reverse=order.descending)
    for page in (1, 2, 3, 5, 7, 30):  # pages cutting runs of equal values anywhere
        assert walk(coll, order, page) == whole


def test_the_newest_come_first_and_runs_keep_one_order(coll: CollectionStore) -> None:
    newest = walk(coll, parse_sort("-indexed_at"), 4)
    assert newest[0] == "r30" and set(newest[1:6]) == {f"r{i}" for i in range(25, 30)}
    assert set(newest[-5:]) == {f"r0{i}" for i in range(5)}


def test_sorted_pages_honour_a_filter(coll: CollectionStore) -> None:
    node = parse_filter({"n": {"$lt": 12}})
    seen = walk(coll, parse_sort("taken_at"), 2, filter=node)
    assert sorted(seen) == [f"r{i:02d}" for i in range(12)]


def test_records_added_between_pages_are_neither_repeated_nor_make_others_skipped(
    coll: CollectionStore,
) -> None:
    order = parse_sort("-indexed_at")
    first, cursor = ordered_page(coll, order, limit=7)
    coll.upsert(
        [StoredPoint(f"new{i}", {"indexed_at": stamp(60 + i)}, {"v": [0.0, 1.0]}) for i in range(3)]
    )
    rest: list[str] = []
    while cursor is not None:
        points, cursor = ordered_page(coll, order, limit=7, cursor=cursor)
        rest.extend(p.id for p in points)
    seen = [p.id for p in first] + rest
    assert len(seen) == len(set(seen))
    assert {p.id for p in records()} <= set(seen)
    assert not {"new0", "new1", "new2"} & set(rest)  # newer than the cursor: on a fresh walk


def test_bad_cursors_and_sorts_are_bad_input(coll: CollectionStore) -> None:
    _, cursor = ordered_page(coll, parse_sort("-indexed_at"), limit=3)
    assert cursor is not None
    with pytest.raises(BadInput):
        ordered_page(coll, parse_sort("indexed_at"), limit=3, cursor=cursor)  # another sort
    with pytest.raises(BadInput, match="next_offset as offset; in the CLI, its next_cursor as"):
        ordered_page(coll, parse_sort("-indexed_at"), limit=3, cursor="not a cursor")
    point = "3186fb26abcb-5326-8a81-9e566c065434"  # a UUID's digits, wrongly grouped
    for text in (
        f"indexed_at|1|b|{10**25}|",  # beyond any datetime
        f"indexed_at|1|v|{-(10**20)}|{point}",
        f"indexed_at|1|m||{point}",
    ):
        forged = base64.urlsafe_b64encode(text.encode()).decode()
        with pytest.raises(BadInput):
            ordered_page(coll, parse_sort("-indexed_at"), limit=3, cursor=forged)
    for sort in ("size", "--taken_at", ""):
        with pytest.raises(BadInput):
            parse_sort(sort)


def test_an_edge_collection_made_without_the_range_index_still_sorts(tmp_path: Path) -> None:
    import qdrant_edge as qe

    from lookalike.store.edge import EdgeStore

    store = EdgeStore(tmp_path)
    store.create_collection("old", SPECS, {"signals": ["duplicate"]})
    opened = store.open_collection("old")
    for field in ("indexed_at", "exif.taken_at"):  # as collections made before sorting
        opened._parts[0].shard.update(qe.UpdateOperation.delete_field_index(field))
    opened.upsert(records())
    assert "indexed_at" not in (opened._parts[0].shard.info().payload_schema or {})
    seen = walk(opened, parse_sort("-indexed_at"), 6)
    assert sorted(seen) == sorted(p.id for p in records()) and seen[0] == "r30"
    opened.close()
