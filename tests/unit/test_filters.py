"""MongoDB-like filters parse into the neutral tree, or fail naming the problem."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from lookalike.errors import InvalidFilter
from lookalike.filters import (
    MAX_DEPTH,
    RECORD_FIELDS,
    And,
    DateRange,
    IsEmpty,
    IsNull,
    Match,
    MatchAny,
    Node,
    Not,
    Or,
    Range,
    parse_filter,
    payload_key,
)

UTC = timezone.utc


def _null(key: str) -> Node:
    return Or((IsEmpty(key), IsNull(key)))


@pytest.mark.parametrize(
    ("user_key", "expected"),
    [
        ("group", "group"),
        ("id", "id"),
        ("exif.camera", "exif.camera"),
        ("metadata.category", "metadata.category"),
        ("metadata", "metadata"),
        ("category", "metadata.category"),
        ("dims.w", "metadata.dims.w"),
        ("groups", "metadata.groups"),
        ("width_px", "metadata.width_px"),
    ],
)
def test_payload_key(user_key: str, expected: str) -> None:
    assert payload_key(user_key) == expected


def test_payload_key_custom_record_fields() -> None:
    assert payload_key("price", frozenset({"price"})) == "price"
    assert payload_key("group", frozenset({"price"})) == "metadata.group"
    assert parse_filter({"price": 3}, record_fields=frozenset({"price"})) == Match("price", 3)


def test_record_fields_cover_the_payload_layout() -> None:
    assert {"id", "group", "source", "metadata", "exif", "nsfw", "safe"} <= RECORD_FIELDS


@pytest.mark.parametrize("spec", [None, {}, "{}", "null", "  {} "])
def test_empty_filters_are_none(spec: Any) -> None:
    assert parse_filter(spec) is None


CASES: list[tuple[str, dict[str, Any], Node]] = [
    ("eq-str", {"category": "shoes"}, Match("metadata.category", "shoes")),
    ("eq-int", {"price": 50}, Match("metadata.price", 50)),
    ("eq-float", {"price": 19.5}, Range("metadata.price", gte=19.5, lte=19.5)),
    ("eq-null", {"category": None}, _null("metadata.category")),
    ("eq-record-field", {"group": "g1"}, Match("group", "g1")),
    ("eq-dotted", {"dims.w": 100}, Match("metadata.dims.w", 100)),
    ("$eq", {"category": {"$eq": "shoes"}}, Match("metadata.category", "shoes")),
    ("$eq-null", {"category": {"$eq": None}}, _null("metadata.category")),
    ("$ne", {"category": {"$ne": "shoes"}}, Not(Match("metadata.category", "shoes"))),
    ("$ne-float", {"p": {"$ne": 1.5}}, Not(Range("metadata.p", gte=1.5, lte=1.5))),
    ("$ne-null", {"p": {"$ne": None}}, Not(_null("metadata.p"))),
    ("$in-str", {"c": {"$in": ["a", "b", "a"]}}, MatchAny("metadata.c", ("a", "b"))),
    ("$in-int", {"c": {"$in": [1, 2]}}, MatchAny("metadata.c", (1, 2))),
    ("$in-empty", {"c": {"$in": []}}, Or(())),
    ("$nin", {"c": {"$nin": ["a"]}}, Not(MatchAny("metadata.c", ("a",)))),
    (
        "$in-mixed",
        {"c": {"$in": ["a", 1, 2.5, None, "b", 3]}},
        Or(
            (
                MatchAny("metadata.c", ("a", "b")),
                MatchAny("metadata.c", (1, 3)),
                Range("metadata.c", gte=2.5, lte=2.5),
                _null("metadata.c"),
            )
        ),
    ),
    ("$gt", {"p": {"$gt": 5}}, Range("metadata.p", gt=5.0)),
    ("$gte", {"p": {"$gte": 5.5}}, Range("metadata.p", gte=5.5)),
    ("$lt", {"p": {"$lt": -1}}, Range("metadata.p", lt=-1.0)),
    ("$lte", {"p": {"$lte": 0}}, Range("metadata.p", lte=0.0)),
    (
        "range-pair-is-two-conditions",
        {"p": {"$gt": 1, "$lt": 9}},
        And((Range("metadata.p", gt=1.0), Range("metadata.p", lt=9.0))),
    ),
    (
        "$gt-datetime-z",
        {"when": {"$gt": "2024-05-01T10:00:00Z"}},
        DateRange("metadata.when", gt=datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ),
    (
        "$lte-datetime-offset",
        {"when": {"$lte": "2024-05-01T12:00:00+02:00"}},
        DateRange("metadata.when", lte=datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ),
    (
        "$gte-date-naive-is-utc",
        {"indexed_at": {"$gte": "2024-05-01"}},
        DateRange("indexed_at", gte=datetime(2024, 5, 1, tzinfo=UTC)),
    ),
    (
        "$exists-true",
        {"c": {"$exists": True}},
        Or((Not(IsEmpty("metadata.c")), IsNull("metadata.c"))),
    ),
    (
        "$exists-false",
        {"c": {"$exists": False}},
        And((IsEmpty("metadata.c"), Not(IsNull("metadata.c")))),
    ),
    ("$not-field", {"p": {"$not": {"$gt": 5}}}, Not(Range("metadata.p", gt=5.0))),
    (
        "$not-field-two-ops",
        {"p": {"$not": {"$gt": 5, "$lt": 9}}},
        Not(And((Range("metadata.p", gt=5.0), Range("metadata.p", lt=9.0)))),
    ),
    ("$not-top", {"$not": {"group": "g1"}}, Not(Match("group", "g1"))),
    (
        "$and",
        {"$and": [{"group": "g1"}, {"c": "x"}]},
        And((Match("group", "g1"), Match("metadata.c", "x"))),
    ),
    (
        "$or",
        {"$or": [{"group": "g1"}, {"p": {"$lt": 3}}]},
        Or((Match("group", "g1"), Range("metadata.p", lt=3.0))),
    ),
    ("$and-empty-item", {"$and": [{}]}, And((And(()),))),
    (
        "several-keys",
        {"group": "g1", "safe": True, "c": {"$ne": "x"}},
        And((Match("group", "g1"), Match("safe", True), Not(Match("metadata.c", "x")))),
    ),
    (
        "nested",
        {"$or": [{"$and": [{"a": 1}, {"$not": {"b": {"$in": ["x"]}}}]}, {"d.e.f": True}]},
        Or(
            (
                And((Match("metadata.a", 1), Not(MatchAny("metadata.b", ("x",))))),
                Match("metadata.d.e.f", True),
            )
        ),
    ),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse(spec: dict[str, Any], expected: Node) -> None:
    assert parse_filter(spec) == expected
    assert parse_filter(json.dumps(spec)) == expected


def test_bool_and_int_stay_distinct() -> None:
    # dataclass equality says True == 1, so check the value types themselves
    flag = parse_filter({"flag": True})
    one = parse_filter({"flag": 1})
    assert isinstance(flag, Match) and type(flag.value) is bool
    assert isinstance(one, Match) and type(one.value) is int
    mixed = parse_filter({"flag": {"$in": [True, 1, False]}})
    assert isinstance(mixed, Or)
    assert [type(getattr(item, "value", None)) for item in mixed.items] == [type(None), bool, bool]
    assert mixed.items[0] == MatchAny("metadata.flag", (1,))


def test_nodes_are_frozen_and_hashable() -> None:
    node = parse_filter({"a": {"$in": ["x", 1]}, "b": {"$gt": 2}})
    assert node is not None
    assert hash(node) == hash(parse_filter({"a": {"$in": ["x", 1]}, "b": {"$gt": 2}}))
    with pytest.raises(AttributeError):
        node.items = ()  # type: ignore[misc,union-attr]


def _nest(depth: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"a": 1}
    for _ in range(depth - 1):
        spec = {"$not": spec}
    return spec


def test_depth_limit() -> None:
    assert parse_filter(_nest(MAX_DEPTH)) is not None
    with pytest.raises(InvalidFilter, match="deeper than 32"):
        parse_filter(_nest(MAX_DEPTH + 1))
    assert parse_filter(_and_chain(15)) is not None
    with pytest.raises(InvalidFilter, match="deeper than 32"):
        parse_filter(_and_chain(16))


def _and_chain(levels: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"a": 1}
    for _ in range(levels):
        spec = {"$and": [spec]}  # each level is an object plus a list
    return spec


def test_deep_json_text_is_invalid_not_a_crash() -> None:
    with pytest.raises(InvalidFilter):
        parse_filter('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")


ERRORS: list[tuple[str, Any, str]] = [
    ("bad-json", '{"a": ', "not valid JSON"),
    ("json-nan", '{"a": NaN}', "NaN"),
    ("not-object-list", [1, 2], "must be a JSON object, got list"),
    ("not-object-json", '["a"]', "must be a JSON object, got list"),
    ("not-object-number", 5, "must be a JSON object, got number"),
    ("$regex", {"a": {"$regex": "^x"}}, r"unsupported operator \$regex"),
    ("$where", {"$where": "this.a > 1"}, r"unsupported operator \$where"),
    ("$elemMatch", {"a": {"$elemMatch": {"b": 1}}}, r"unsupported operator \$elemMatch"),
    ("$size", {"a": {"$size": 2}}, r"unsupported operator \$size"),
    ("$nor", {"$nor": [{"a": 1}]}, r"unsupported operator \$nor"),
    ("$all", {"a": {"$all": [1]}}, r"unsupported operator \$all"),
    ("$type", {"a": {"$type": "string"}}, r"unsupported operator \$type"),
    ("unknown-$key-top", {"$foo": 1}, r"unsupported operator \$foo"),
    ("field-op-at-top", {"$gt": 5}, r"\$gt applies to a field"),
    ("logical-in-field", {"a": {"$or": [{"b": 1}]}}, r"\$or combines filters"),
    ("eq-list", {"a": [1, 2]}, "list or object on 'a'"),
    ("eq-object", {"a": {"b": 1}}, "list or object on 'a'"),
    ("eq-empty-object", {"a": {}}, "list or object on 'a'"),
    ("$eq-list", {"a": {"$eq": ["x"]}}, r"\$eq to a list or object"),
    ("$ne-object", {"a": {"$ne": {"b": 1}}}, r"\$ne to a list or object"),
    ("mixed-ops-and-fields", {"a": {"$gt": 1, "b": 2}}, "mixes operators and fields"),
    ("$in-not-list", {"a": {"$in": "x"}}, r"\$in on 'a' needs a list, got string"),
    ("$nin-not-list", {"a": {"$nin": 3}}, r"\$nin on 'a' needs a list, got number"),
    ("$in-nested-list", {"a": {"$in": [[1]]}}, r"\$in on 'a': items must be"),
    ("$in-object", {"a": {"$in": [{"b": 1}]}}, r"\$in on 'a': items must be"),
    ("$and-not-list", {"$and": {"a": 1}}, r"\$and needs a list of filters, got object"),
    ("$or-not-list", {"$or": "a"}, r"\$or needs a list of filters, got string"),
    ("$and-empty", {"$and": []}, r"\$and needs a non-empty list"),
    ("$or-empty", {"$or": []}, r"\$or needs a non-empty list"),
    ("$or-item-not-object", {"$or": [1]}, r"\$or items must be filter objects, got number"),
    ("$gt-string", {"a": {"$gt": "abc"}}, r"\$gt on 'a' needs a number or an ISO-8601"),
    ("$lt-bool", {"a": {"$lt": True}}, r"\$lt on 'a' needs a number"),
    ("$gte-null", {"a": {"$gte": None}}, r"\$gte on 'a' needs a number"),
    ("$lte-list", {"a": {"$lte": [1]}}, r"\$lte on 'a' needs a number"),
    ("$exists-string", {"a": {"$exists": "yes"}}, r"\$exists on 'a' needs true or false"),
    ("$exists-2", {"a": {"$exists": 2}}, r"\$exists on 'a' needs true or false"),
    ("$not-scalar", {"a": {"$not": 5}}, r"\$not on 'a' needs an object of operators"),
    ("$not-fields", {"a": {"$not": {"b": 1}}}, r"\$not on 'a' needs an object of operators"),
    ("$not-empty-field", {"a": {"$not": {}}}, r"\$not on 'a' needs an object of operators"),
    ("$not-top-empty", {"$not": {}}, r"\$not needs a non-empty filter object"),
    ("$not-top-list", {"$not": [{"a": 1}]}, r"\$not needs a non-empty filter object"),
    ("non-string-key", {1: "a"}, "keys must be strings, got 1"),
    ("non-string-op-key", {"a": {"$gt": 1, 2: 3}}, "keys must be strings, got 2"),
    ("empty-key", {"": 1}, "invalid key ''"),
    ("empty-part", {"a..b": 1}, r"invalid key 'a\.\.b'"),
    ("trailing-dot", {"a.": 1}, "invalid key 'a.'"),
    ("positional", {"tags.$": 1}, "positional operators"),
    ("huge-int", {"a": 2**70}, "64-bit"),
    ("huge-int-in", {"a": {"$in": [2**64]}}, "64-bit"),
    ("infinite-float", {"a": float("inf")}, "not a finite number"),
    ("nan-range", {"a": {"$gt": float("nan")}}, "not a finite number"),
    ("value-type", {"a": b"x"}, "unsupported value type bytes"),
]


@pytest.mark.parametrize(("spec", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_invalid(spec: Any, message: str) -> None:
    with pytest.raises(InvalidFilter, match=message) as caught:
        parse_filter(spec)
    assert caught.value.code == "invalid_filter"
    assert caught.value.status == 400


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(InvalidFilter, match=r"got 'xxx.*\.\.\.$") as caught:
        parse_filter({"a": {"$gt": "x" * 10_000}})
    assert len(caught.value.message) < 200
