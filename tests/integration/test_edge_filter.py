"""Translated filters select, in a real Qdrant Edge shard, what MongoDB would select.

Each case runs on a shard of small records whose payloads vary in type and shape (missing, null,
empty array, float, string digits, bool, arrays, arrays of objects) and is compared with a small
reference matcher of MongoDB's semantics, written here, that applies only the deviations
`lookalike.filters` documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Set
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import qdrant_edge as qe

from lookalike.errors import InvalidFilter
from lookalike.filters import (
    RECORD_FIELDS,
    And,
    HasIds,
    Match,
    Node,
    Not,
    Or,
    parse_filter,
)
from lookalike.store.edge_filter import to_edge_filter

NAMESPACE = uuid.UUID("0f6c2f4e-1d7a-4c55-9a0e-3b2d6f1e8a90")


def point_id(record_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, record_id))


RECORDS: dict[str, dict[str, Any]] = {
    "a": {
        "group": "g1",
        "safe": True,
        "width": 640,
        "indexed_at": "2024-05-02T00:00:00Z",
        "exif": {"camera": "X100", "iso": 200},
        "metadata": {
            "category": "shoes",
            "price": 50,
            "tags": ["red", "sale"],
            "dims": {"w": 100},
            "when": "2024-05-01T10:00:00Z",
            "flag": True,
        },
    },
    "b": {
        "group": "g1",
        "safe": False,
        "width": 1024,
        "indexed_at": "2024-06-01T00:00:00Z",
        "metadata": {
            "category": "shoes",
            "price": 50.0,
            "tags": ["blue"],
            "dims": {"w": 250, "h": 80},
            "when": "2024-06-15T08:30:00+02:00",
            "flag": False,
        },
    },
    "c": {
        "group": "g2",
        "safe": True,
        "width": 300,
        "metadata": {
            "category": "bags",
            "price": 19.99,
            "tags": [],
            "dims": {"w": 100.5},
            "when": "2023-12-31",
            "flag": True,
        },
    },
    "d": {
        "group": "g2",
        "metadata": {
            "category": "shoes",
            "price": "50",
            "tags": "red",
            "flag": 1,
            "when": "2024-05-01 12:00:00",
        },
    },
    "e": {
        "group": "g1",
        "metadata": {"category": None, "price": None, "tags": [None, "red"], "dims": None},
    },
    "f": {"group": "g3", "metadata": {}},
    "g": {
        "group": "g3",
        "metadata": {
            "category": "hats",
            "price": 0,
            "flag": False,
            "dims": [{"w": 10}, {"w": 300}],
            "when": 1714557600,
        },
    },
    "h": {
        "metadata": {
            "category": ["shoes", "bags"],
            "price": [10, 60],
            "when": "not a date",
            "tags": ["sale", 7],
        }
    },
    "i": {"group": "g2", "metadata": {"price": -5, "dims": {"w": None}, "count": 7}},
    "j": {
        "group": "g1",
        "metadata": {
            "category": "Shoes",
            "price": 1e6,
            "flag": True,
            "tags": ["sale"],
            "dims": {"w": [50, 150]},
        },
    },
    "k": {"group": "g2"},
    "l": {"metadata": {"price": True, "category": "", "flag": "true"}},
    "m": {"group": "g4", "metadata": {"price": 2**60, "when": "2024-05-01T12:00:00"}},
    "n": {
        "group": "g4",
        "metadata": {"my key": "spaced", "nested": {"deep": {"x": "y"}}, "é": 1},
    },
    "o": {
        "group": "g1",
        "metadata": {
            "price": 49.5,
            "when": ["2022-01-01T00:00:00Z", "2025-01-01T00:00:00Z"],
            "flag": [True, False],
        },
    },
}
ALL = frozenset(RECORDS)


# ---------------------------------------------------------------- reference matcher (MongoDB)


def _resolve(value: Any, parts: list[str]) -> list[Any]:
    """Values a dotted path reaches, descending into arrays of objects as MongoDB does."""
    if not parts:
        return [value]
    if isinstance(value, dict):
        return _resolve(value[parts[0]], parts[1:]) if parts[0] in value else []
    if isinstance(value, list):
        return [v for item in value if isinstance(item, dict) for v in _resolve(item, parts)]
    return []


def _elements(leaves: list[Any]) -> list[Any]:
    return [e for leaf in leaves for e in (leaf if isinstance(leaf, list) else [leaf])]


def _absent(leaves: list[Any]) -> bool:
    # documented deviation: an empty array counts as a missing field
    return all(leaf == [] for leaf in leaves)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _equals(leaves: list[Any], value: Any) -> bool:
    if value is None:
        return _absent(leaves) or any(e is None for e in _elements(leaves))
    return any(_same(e, value) for e in _elements(leaves))


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _compare(op: str, a: Any, b: Any) -> bool:
    return bool({"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op])


def _in_range(leaves: list[Any], op: str, bound: Any) -> bool:
    # documented: a string bound is a datetime, compared with stored strings read as datetimes
    if isinstance(bound, str):
        limit = _moment(bound)
        moments = [m for m in map(_moment, _elements(leaves)) if m is not None]
        return any(_compare(op, m, limit) for m in moments)
    numbers = [e for e in _elements(leaves) if isinstance(e, int | float)]
    return any(_compare(op, n, bound) for n in numbers if not isinstance(n, bool))


def _operator(leaves: list[Any], op: str, arg: Any) -> bool:
    if op == "$eq":
        return _equals(leaves, arg)
    if op == "$ne":
        return not _equals(leaves, arg)
    if op == "$in":
        return any(_equals(leaves, v) for v in arg)
    if op == "$nin":
        return not any(_equals(leaves, v) for v in arg)
    if op == "$exists":
        return (not _absent(leaves)) == bool(arg)
    if op == "$not":
        return not all(_operator(leaves, o, a) for o, a in arg.items())
    return _in_range(leaves, op, arg)


def mongo_matches(doc: dict[str, Any], spec: dict[str, Any]) -> bool:
    for key, cond in spec.items():
        if key == "$and":
            ok = all(mongo_matches(doc, sub) for sub in cond)
        elif key == "$or":
            ok = any(mongo_matches(doc, sub) for sub in cond)
        elif key == "$not":
            ok = not mongo_matches(doc, cond)
        else:
            path = key if key.split(".")[0] in RECORD_FIELDS else f"metadata.{key}"
            leaves = _resolve(doc, path.split("."))
            if isinstance(cond, dict) and all(op.startswith("$") for op in cond):
                ok = all(_operator(leaves, op, arg) for op, arg in cond.items())
            else:
                ok = _equals(leaves, cond)
        if not ok:
            return False
    return True


def expected_ids(spec: dict[str, Any]) -> frozenset[str]:
    return frozenset(rid for rid, doc in RECORDS.items() if mongo_matches({"id": rid, **doc}, spec))


# ---------------------------------------------------------------- the shard


@pytest.fixture(scope="module")
def shard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[qe.EdgeShard]:
    path: Path = tmp_path_factory.mktemp("edge-filter")
    config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=4, distance=qe.Distance.Cosine))
    edge = qe.EdgeShard.create(str(path), config)
    points = [
        qe.Point(point_id(rid), [1.0, float(n), 0.5, 0.25], {"id": rid, **payload})
        for n, (rid, payload) in enumerate(RECORDS.items())
    ]
    edge.update(qe.UpdateOperation.upsert_points(points))
    yield edge
    edge.close()


def store_ids(shard: qe.EdgeShard, node: Node | None) -> frozenset[str]:
    flt = to_edge_filter(node, point_id=point_id)
    records, _ = shard.scroll(qe.ScrollRequest(limit=1000, filter=flt, with_payload=True))
    found = frozenset(r.payload["id"] for r in records if r.payload is not None)
    assert len(found) == len(records)
    assert shard.count(qe.CountRequest(exact=True, filter=flt)) == len(found)
    return found


# (case id, filter, what MongoDB selects when worked out by hand, or None to trust the reference)
CASES: list[tuple[str, dict[str, Any], Set[str] | None]] = [
    ("eq-str", {"category": "shoes"}, {"a", "b", "d", "h"}),
    ("eq-str-case-sensitive", {"category": "Shoes"}, {"j"}),
    ("eq-empty-str", {"category": ""}, {"l"}),
    ("eq-int-matches-float", {"price": 50}, {"a", "b"}),
    ("eq-int-in-array", {"price": 60}, {"h"}),
    ("eq-float", {"price": 19.99}, {"c"}),
    ("eq-integral-float", {"price": 50.0}, {"a", "b"}),
    ("eq-big-int", {"price": 2**60}, {"m"}),
    ("eq-true-not-1", {"flag": True}, {"a", "c", "j", "o"}),
    ("eq-false-not-0", {"flag": False}, {"b", "g", "o"}),
    ("eq-1-not-true", {"flag": 1}, {"d"}),
    ("eq-zero-not-false", {"price": 0}, {"g"}),
    ("eq-string-true", {"flag": "true"}, {"l"}),
    ("eq-null", {"category": None}, {"e", "f", "i", "k", "m", "n", "o"}),
    ("eq-null-arrays", {"tags": None}, None),
    ("eq-array-element", {"tags": "red"}, {"a", "d", "e"}),
    ("eq-array-int-element", {"tags": 7}, {"h"}),
    ("eq-record-field", {"group": "g1"}, {"a", "b", "e", "j", "o"}),
    ("eq-record-bool", {"safe": False}, {"b"}),
    ("eq-record-int", {"width": 640}, {"a"}),
    ("eq-record-dotted", {"exif.camera": "X100"}, {"a"}),
    ("$eq", {"category": {"$eq": "bags"}}, {"c", "h"}),
    ("$eq-null", {"price": {"$eq": None}}, None),
    ("$ne-str", {"category": {"$ne": "shoes"}}, None),
    ("$ne-missing-field", {"count": {"$ne": 7}}, ALL - {"i"}),
    ("$ne-int", {"price": {"$ne": 50}}, ALL - {"a", "b"}),
    ("$ne-float", {"price": {"$ne": 19.99}}, ALL - {"c"}),
    ("$ne-bool", {"flag": {"$ne": True}}, None),
    ("$ne-null", {"category": {"$ne": None}}, {"a", "b", "c", "d", "g", "h", "j", "l"}),
    ("$ne-array", {"tags": {"$ne": "red"}}, ALL - {"a", "d", "e"}),
    ("$in-str", {"category": {"$in": ["bags", "hats"]}}, {"c", "g", "h"}),
    ("$in-int", {"price": {"$in": [0, 50, -5]}}, {"a", "b", "g", "i"}),
    ("$in-mixed", {"price": {"$in": ["50", 19.99, 0, True]}}, {"c", "d", "g", "l"}),
    ("$in-null", {"category": {"$in": [None, "hats"]}}, None),
    ("$in-bools", {"flag": {"$in": [False, "true"]}}, {"b", "g", "l", "o"}),
    ("$in-empty", {"category": {"$in": []}}, set()),
    ("$in-array", {"tags": {"$in": ["blue", 7]}}, {"b", "h"}),
    ("$nin-str", {"category": {"$nin": ["shoes", "bags"]}}, None),
    ("$nin-missing-field", {"count": {"$nin": [7, 8]}}, ALL - {"i"}),
    ("$nin-mixed", {"price": {"$nin": [50, None, "50"]}}, None),
    ("$nin-empty", {"category": {"$nin": []}}, ALL),
    ("$gt", {"price": {"$gt": 49.5}}, {"a", "b", "h", "j", "m"}),
    ("$gte", {"price": {"$gte": 49.5}}, {"a", "b", "h", "j", "m", "o"}),
    ("$lt", {"price": {"$lt": 0}}, {"i"}),
    ("$lte", {"price": {"$lte": 0}}, {"g", "i"}),
    ("$gt-record-field", {"width": {"$gte": 640}}, {"a", "b"}),
    ("range-pair-across-elements", {"price": {"$gt": 20, "$lt": 50}}, {"h", "o"}),
    ("range-pair-dotted-arrays", {"dims.w": {"$gt": 120, "$lt": 60}}, {"g", "j"}),
    ("$gt-datetime", {"when": {"$gt": "2024-05-01T09:00:00Z"}}, {"a", "b", "d", "m", "o"}),
    ("$lt-datetime-offset", {"when": {"$lt": "2024-05-01T12:00:00+02:00"}}, {"c", "o"}),
    ("$lte-datetime", {"when": {"$lte": "2024-05-01T10:00:00Z"}}, {"a", "c", "o"}),
    ("$gte-date-only", {"indexed_at": {"$gte": "2024-05-15"}}, {"b"}),
    ("datetime-window", {"when": {"$gte": "2024-05-01", "$lt": "2024-05-02"}}, None),
    ("$exists-true", {"category": {"$exists": True}}, None),
    ("$exists-false", {"category": {"$exists": False}}, {"f", "i", "k", "m", "n", "o"}),
    ("$exists-empty-array", {"tags": {"$exists": True}}, {"a", "b", "d", "e", "h", "j"}),
    ("$exists-dotted", {"dims.w": {"$exists": True}}, {"a", "b", "c", "g", "i", "j"}),
    ("$exists-false-dotted", {"dims.w": {"$exists": False}}, None),
    ("$exists-record-field", {"group": {"$exists": False}}, {"h", "l"}),
    ("$not-field", {"price": {"$not": {"$gt": 49.5}}}, None),
    ("$not-field-in", {"category": {"$not": {"$in": ["shoes"]}}}, None),
    ("$not-field-pair", {"price": {"$not": {"$gte": 0, "$lt": 50}}}, None),
    ("$not-top", {"$not": {"group": "g1"}}, None),
    ("$not-top-compound", {"$not": {"group": "g1", "flag": True}}, None),
    ("$and", {"$and": [{"category": "shoes"}, {"price": {"$gte": 50}}]}, {"a", "b", "h"}),
    ("$or", {"$or": [{"group": "g3"}, {"price": {"$lt": 0}}, {"tags": "blue"}]}, None),
    ("several-keys", {"group": "g1", "flag": True}, {"a", "j", "o"}),
    ("several-ops", {"price": {"$gte": 0, "$ne": 50, "$lt": 100}}, {"c", "g", "h", "o"}),
    (
        "nested-logic",
        {
            "$or": [
                {"$and": [{"group": "g1"}, {"$not": {"tags": "red"}}]},
                {"category": {"$in": ["hats"]}},
            ]
        },
        {"b", "g", "j", "o"},
    ),
    ("dotted", {"dims.w": 100}, {"a"}),
    ("dotted-range", {"dims.w": {"$gt": 100}}, {"b", "c", "g", "j"}),
    ("dotted-array-of-objects", {"dims.w": 10}, {"g"}),
    ("dotted-null", {"dims.w": None}, None),
    ("dotted-deep", {"nested.deep.x": "y"}, {"n"}),
    ("dotted-deep-exists", {"nested.deep": {"$exists": True}}, {"n"}),
    ("quoted-key", {"my key": "spaced"}, {"n"}),
    ("unicode-key", {"é": 1}, {"n"}),
    # the record id: a lookup of the point ids derived from it, not a payload index
    ("eq-id", {"id": "a"}, {"a"}),
    ("in-ids", {"id": {"$in": ["a", "c", "zzz"]}}, {"a", "c"}),
    ("ne-id", {"id": {"$ne": "a"}}, ALL - {"a"}),
    ("nin-ids", {"id": {"$nin": ["a", "c"]}}, ALL - {"a", "c"}),
    ("or-id-field", {"$or": [{"id": "k"}, {"category": "hats"}]}, {"g", "k"}),
    ("id-and-field", {"id": {"$in": ["a", "b", "c"]}, "group": "g1"}, {"a", "b"}),
    ("eq-id-int", {"id": 5}, set()),  # ids are strings
]


@pytest.mark.parametrize(("spec", "by_hand"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_filter_matches_mongo(
    shard: qe.EdgeShard, spec: dict[str, Any], by_hand: Set[str] | None
) -> None:
    expected = expected_ids(spec)
    if by_hand is not None:
        assert expected == by_hand, "the reference matcher disagrees with the hand-worked set"
    assert store_ids(shard, parse_filter(spec)) == expected


def test_cases_discriminate() -> None:
    trivial = {c[0] for c in CASES if expected_ids(c[1]) in (frozenset(), ALL)}
    assert trivial == {"$in-empty", "$nin-empty", "eq-id-int"}


ID_CASES: list[tuple[str, Node, Set[str]]] = [
    ("has-ids", HasIds(("a", "c")), {"a", "c"}),
    ("has-no-ids", HasIds(()), set()),
    ("has-unknown-id", HasIds(("zzz",)), set()),
    ("has-ids-and-field", And((HasIds(("a", "b", "c")), Match("group", "g1"))), {"a", "b"}),
    ("exclude-id", Not(HasIds(("a",))), ALL - {"a"}),
    ("or-ids", Or((HasIds(("k",)), Match("metadata.category", "hats"))), {"g", "k"}),
]


@pytest.mark.parametrize(
    ("node", "expected"), [c[1:] for c in ID_CASES], ids=[c[0] for c in ID_CASES]
)
def test_has_ids(shard: qe.EdgeShard, node: Node, expected: Set[str]) -> None:
    assert store_ids(shard, node) == expected


def test_exclude_a_record_from_a_user_filter(shard: qe.EdgeShard) -> None:
    user = parse_filter({"category": "shoes"})
    assert user is not None
    assert store_ids(shard, And((user, Not(HasIds(("a",)))))) == {"b", "d", "h"}


def test_no_filter_selects_everything(shard: qe.EdgeShard) -> None:
    assert to_edge_filter(None, point_id=point_id) is None
    assert store_ids(shard, None) == ALL
    assert store_ids(shard, And(())) == ALL
    assert store_ids(shard, Or(())) == frozenset()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ('we"ird', "quotes and backslashes"),
        ("back\\slash", "quotes and backslashes"),
        ("a.b.c.d.e.f", "more than 6 dotted parts"),
    ],
    ids=["quote", "backslash", "too-many-parts"],
)
def test_unwritable_keys(key: str, message: str) -> None:
    with pytest.raises(InvalidFilter, match=message):
        to_edge_filter(parse_filter({key: 1}), point_id=point_id)
