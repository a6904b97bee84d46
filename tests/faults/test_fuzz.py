"""Fault: hostile bytes for the decoder, hostile trees for the filter parser.

Injected: real images of every decodable format with bytes flipped, cut, inserted, repeated and
header fields overwritten (hypothesis, a fixed number of examples per run, derandomized so CI
sees the same cases every time); and JSON-like trees built from the filter language's own
operators, field names and odd values (deep nesting, NaN, huge integers, wrong types). What may
come out is one of lookalike's typed errors, never another exception (a 500 over HTTP, a lost
batch in the CLI) and never a crash of the process.
"""

from __future__ import annotations

import io
import json
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lookalike.errors import BadInput, InvalidFilter, LookalikeError
from lookalike.filters import MAX_DEPTH, parse_filter
from lookalike.images import decode
from tests.support.samples import photo

FUZZ = settings(
    max_examples=300,
    deadline=2000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP")


@cache
def _seed_image(fmt: str) -> bytes:
    """A real photo, small, as ``fmt``: mutations start from a file the decoder reads."""
    im = photo("chelsea")
    im.thumbnail((96, 96))
    if fmt == "PNG":
        im = im.convert("RGBA")  # alpha: the compositing path too
    out = io.BytesIO()
    im.save(out, fmt, **({"exif": _exif()} if fmt in ("JPEG", "WEBP", "PNG") else {}))
    return out.getvalue()


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate on decode
    exif[0x010F] = "fuzz"
    return exif.tobytes()


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(FORMATS))
    data = bytearray(_seed_image(fmt))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "repeat", "header"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0xD8, 0xD9]))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 4096))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 512))] * draw(st.integers(2, 8))
        else:  # the first bytes hold sizes, counts and offsets: where parsers trust the file
            at = draw(st.integers(0, min(len(data), 64)))
            data[at : at + 4] = draw(st.binary(min_size=4, max_size=4))
    return fmt, bytes(data)


def test_the_seed_images_decode() -> None:
    for fmt in FORMATS:
        assert decode(_seed_image(fmt), name=fmt, min_side=32).format == fmt


@pytest.mark.slow
@FUZZ
@given(case=_mutated())
def test_mutated_images_raise_only_lookalike_errors(case: tuple[str, bytes]) -> None:
    fmt, data = case
    try:
        decoded = decode(data, name=f"fuzz.{fmt.lower()}", min_side=32, max_pixels=4_000_000)
    except LookalikeError as exc:
        assert exc.code and exc.message.startswith("fuzz."), exc
    else:
        assert decoded.image.mode == "RGB" and decoded.width >= 1 and decoded.height >= 1


_OPERATORS = (
    "$and",
    "$or",
    "$not",
    "$eq",
    "$ne",
    "$in",
    "$nin",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$exists",
    "$geoWithin",
    "$near",
    "$nearSphere",
    "$centerSphere",
    "$box",
    "$geometry",
    "$maxDistance",
    "$minDistance",
    "$nor",
    "$regex",
    "$",
)
_FIELDS = ("price", "tags", "id", "group", "source", "metadata.a", "a.b.c", "a..b", "", ".", "0")
_keys = st.one_of(st.sampled_from(_OPERATORS + _FIELDS), st.text(max_size=6))
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["2024-01-02T03:04:05Z", "2024-13-45", "Point", "NaN", "1e400", ""]),
    st.text(max_size=8),
)
_trees = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=4)
    ),
    max_leaves=24,
)


@pytest.mark.slow
@settings(FUZZ, max_examples=150)
@given(tree=st.dictionaries(_keys, _trees, max_size=4))
def test_filter_trees_raise_only_invalid_filter(tree: dict[str, Any]) -> None:
    try:
        parse_filter(tree)
    except (InvalidFilter, BadInput) as exc:
        assert exc.message
    # The same tree as JSON text, as the API and the CLI receive it.
    text = json.dumps(tree, allow_nan=True)
    try:
        parse_filter(text)
    except (InvalidFilter, BadInput) as exc:
        assert exc.message


@FUZZ
@given(depth=st.integers(1, 5000), op=st.sampled_from(["$and", "$or", "$not", "field"]))
def test_deep_filters_are_refused_not_a_recursion_error(depth: int, op: str) -> None:
    # Written as text: the json module itself cannot encode a tree this deep.
    key = json.dumps(op)
    opening, closing = (f"{{{key}: [", "]}") if op in ("$and", "$or") else (f"{{{key}: ", "}")
    text = opening * depth + '{"price": 1}' + closing * depth
    if depth > MAX_DEPTH:
        with pytest.raises(InvalidFilter):
            parse_filter(text)
    else:
        try:
            parse_filter(text)
        except InvalidFilter as exc:
            assert exc.message
