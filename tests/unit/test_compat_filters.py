"""Filters written against a hosted service's records become lookalike filters."""

from __future__ import annotations

import pytest

from lookalike.api.compat.filters import metadata_filter
from lookalike.errors import InvalidFilter
from lookalike.filters import And, Match, MatchAny, Or, Range, parse_filter


def test_free_fields_move_under_metadata_and_mapped_fields_do_not() -> None:
    spec = {
        "category": "kitchen",
        "_id": {"$in": ["1", "2"]},
        "$or": [{"price": {"$lt": 10}}, {"tags": "sale"}],
    }
    out = metadata_filter(spec, fields={"_id": "id"})
    assert out == {
        "metadata.category": "kitchen",
        "id": {"$in": ["1", "2"]},
        "$or": [{"metadata.price": {"$lt": 10}}, {"metadata.tags": "sale"}],
    }
    assert parse_filter(out) == And(
        (
            Match("metadata.category", "kitchen"),
            MatchAny("id", ("1", "2")),
            Or((Range("metadata.price", lt=10), Match("metadata.tags", "sale"))),
        )
    )


def test_record_field_names_stay_metadata_without_a_mapping() -> None:
    # a free field called "width" is the record's metadata, not its pixel width
    assert metadata_filter({"width": 3}) == {"metadata.width": 3}


def test_empty_and_bad_filters() -> None:
    assert metadata_filter(None) is None and metadata_filter({}) is None
    with pytest.raises(InvalidFilter, match="JSON object"):
        metadata_filter(["category"])
    deep: dict[str, object] = {"a": 1}
    for _ in range(40):
        deep = {"$and": [deep]}
    with pytest.raises(InvalidFilter, match="nested"):
        metadata_filter(deep)
