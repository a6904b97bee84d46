"""How ``lookalike eval`` turns its options into configurations compared side by side."""

from __future__ import annotations

import pytest

from lookalike.cli.evaluate import _choices, _parse_variant, _variants
from lookalike.errors import BadInput
from lookalike.evaluation import Variant


def test_repeated_options_multiply_and_name_what_differs() -> None:
    choices = _choices(["m1", "m2"], ["int8"], ["semantic", "duplicate"])
    variants = _variants("semantic,duplicate", choices, None)
    assert [v.name for v in variants] == [
        "model=m1 signal=semantic",
        "model=m1 signal=duplicate",
        "model=m2 signal=semantic",
        "model=m2 signal=duplicate",
    ]
    assert variants[3] == Variant(
        "model=m2 signal=duplicate",
        {"signals": "semantic,duplicate", "model": "m2", "precision": "int8"},
        {"signal": "duplicate"},
    )
    assert _variants(None, {}, None) == [Variant("default", {}, {})]


def test_a_variant_spec_splits_into_collection_and_search_options() -> None:
    name, create, search = _parse_variant("name=copies,signals=semantic,duplicate,signal=duplicate")
    assert name == "copies"
    assert create == {"signals": "semantic,duplicate"}  # the comma stays in its value
    assert search == {"signal": "duplicate"}
    _, create, search = _parse_variant("precision=int8,threshold=0.5,thumbnails=true")
    assert create == {"precision": "int8", "thumbnails": True} and search == {"threshold": 0.5}
    with pytest.raises(BadInput, match="unknown key 'top_k'"):
        _parse_variant("top_k=5")  # set by the evaluation itself
    with pytest.raises(BadInput, match="unknown key 'colour'"):
        _parse_variant("colour=red")
    with pytest.raises(BadInput, match="want KEY=VALUE"):
        _parse_variant("semantic")
