"""The neutral filter tree (`lookalike.filters`) as a Qdrant Edge `Filter`.

Qdrant's conditions are close to the tree; what this module adds closes the gaps between them
and MongoDB's meaning:

- The binding turns `MatchValue(True)` into the integer 1 (bool subclasses int), which matches a
  stored 1 and never a stored true; a `numpy.bool_` stays a boolean, so booleans travel as that.
- `MatchValue(50)` does not match a stored 50.0, so integer equality also tries the range
  [50, 50], where the integer is small enough (below 2**53) for a float to hold it exactly.
- A path descends into an array of objects only where its part is written `part[]`, so every
  inner part of a key is tried both ways (`metadata.dims.w` and `metadata.dims[].w`) and a key
  finds `{"dims": [{"w": 1}]}` as in MongoDB. The first part is a record field (an object, never
  an array); keys have at most `MAX_PATH_PARTS` parts to bound the combinations.
- An empty `should` matches everything, so `Or(())` becomes a `HasIdCondition` with no ids.
- Equality on the record `id` is a `HasIdCondition` on the point ids derived from the values:
  the store keeps no index of ids (see `lookalike.payload.KEYWORD_INDEXED`), and needs none.
- Key parts outside `[A-Za-z0-9_-]` are quoted; a part holding `"` or a backslash cannot be
  written in Qdrant's path syntax and is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, cast

import numpy as np
import qdrant_edge as qe

from lookalike.errors import InvalidFilter
from lookalike.filters import (
    And,
    DateRange,
    GeoBox,
    GeoRadius,
    HasIds,
    IsEmpty,
    IsNull,
    Match,
    MatchAny,
    Node,
    Not,
    Or,
    Range,
)
from lookalike.payload import ID

if TYPE_CHECKING:
    from qdrant_edge import ConditionType

MAX_PATH_PARTS = 6
_EXACT_FLOAT_INT = 2**53
_PLAIN_PART = re.compile(r"[A-Za-z0-9_-]+")


def to_edge_filter(node: Node | None, *, point_id: Callable[[str], str]) -> qe.Filter | None:
    """Convert a parsed filter; `point_id` maps a record id to its point id (for `HasIds`)."""
    if node is None:
        return None
    condition = _condition(node, point_id)
    if isinstance(condition, qe.Filter):
        return condition
    return qe.Filter(must=[condition])


def _condition(node: Node, point_id: Callable[[str], str]) -> ConditionType:
    if isinstance(node, And):
        return qe.Filter(must=[_condition(item, point_id) for item in node.items])
    if isinstance(node, Or):
        if not node.items:
            return qe.HasIdCondition(set())
        return qe.Filter(should=[_condition(item, point_id) for item in node.items])
    if isinstance(node, Not):
        return qe.Filter(must_not=[_condition(node.item, point_id)])
    if isinstance(node, HasIds):
        return qe.HasIdCondition({point_id(record_id) for record_id in node.ids})
    if isinstance(node, IsEmpty):
        # empty means empty along every way the path can be read
        return _every([qe.IsEmptyCondition(path) for path in paths(node.key)])
    if isinstance(node, IsNull):
        return _some([qe.IsNullCondition(path) for path in paths(node.key)])
    if isinstance(node, Match) and node.key == ID and isinstance(node.value, str):
        return qe.HasIdCondition({point_id(node.value)})
    if isinstance(node, MatchAny) and node.key == ID and node.values:
        if isinstance(node.values[0], str):  # all of one type
            return qe.HasIdCondition({point_id(str(v)) for v in node.values})
    if isinstance(node, Match):
        return _some([c for path in paths(node.key) for c in _match(path, node.value)])
    if isinstance(node, MatchAny):
        return _some([c for path in paths(node.key) for c in _match_any(path, node.values)])
    if isinstance(node, Range):
        bounds = qe.RangeFloat(gt=node.gt, gte=node.gte, lt=node.lt, lte=node.lte)
        return _some([qe.FieldCondition(path, range=bounds) for path in paths(node.key)])
    if isinstance(node, DateRange):
        moments = qe.RangeDateTime(
            gt=_iso(node.gt), gte=_iso(node.gte), lt=_iso(node.lt), lte=_iso(node.lte)
        )
        return _some([qe.FieldCondition(path, range=moments) for path in paths(node.key)])
    if isinstance(node, GeoRadius):
        circle = qe.GeoRadius(qe.GeoPoint(lon=node.lon, lat=node.lat), node.meters)
        return _some([qe.FieldCondition(path, geo_radius=circle) for path in paths(node.key)])
    if isinstance(node, GeoBox):
        box = qe.GeoBoundingBox(
            top_left=qe.GeoPoint(lon=node.west, lat=node.north),
            bottom_right=qe.GeoPoint(lon=node.east, lat=node.south),
        )
        return _some([qe.FieldCondition(path, geo_bounding_box=box) for path in paths(node.key)])
    raise InvalidFilter(f"cannot convert filter node {node!r}")


def _match(path: str, value: str | int | bool) -> list[ConditionType]:
    if isinstance(value, bool):
        # numpy.bool_ is not an int, so the binding keeps it a boolean (see module docstring)
        return [qe.FieldCondition(path, match=qe.MatchValue(cast(bool, np.bool_(value))))]
    conditions: list[ConditionType] = [qe.FieldCondition(path, match=qe.MatchValue(value))]
    if isinstance(value, int):
        conditions.extend(_same_float(path, [value]))
    return conditions


def _match_any(path: str, values: tuple[str, ...] | tuple[int, ...]) -> list[ConditionType]:
    any_of = qe.MatchAny(cast("list[str] | list[int]", list(values)))
    conditions: list[ConditionType] = [qe.FieldCondition(path, match=any_of)]
    ints = [value for value in values if isinstance(value, int)]
    conditions.extend(_same_float(path, ints))
    return conditions


def _same_float(path: str, values: Sequence[int]) -> list[ConditionType]:
    """Ranges matching floats equal to these integers (a stored 50.0 for 50)."""
    return [
        qe.FieldCondition(path, range=qe.RangeFloat(gte=float(v), lte=float(v)))
        for v in values
        if abs(v) < _EXACT_FLOAT_INT
    ]


def _some(conditions: list[ConditionType]) -> ConditionType:
    return conditions[0] if len(conditions) == 1 else qe.Filter(should=conditions)


def _every(conditions: list[ConditionType]) -> ConditionType:
    return conditions[0] if len(conditions) == 1 else qe.Filter(must=conditions)


def paths(key: str) -> list[str]:
    """Every Qdrant path that reads `key`, with each inner part as object and as array."""
    parts = key.split(".")
    if len(parts) > MAX_PATH_PARTS:
        raise InvalidFilter(f"key {key!r} has more than {MAX_PATH_PARTS} dotted parts")
    quoted = [_quote(part, key) for part in parts]
    paths = [quoted[0]]
    for index, part in enumerate(quoted[1:], start=1):
        inner = index < len(quoted) - 1
        paths = [f"{p}.{part}" for p in paths] + ([f"{p}.{part}[]" for p in paths] if inner else [])
    return paths


def _quote(part: str, key: str) -> str:
    if _PLAIN_PART.fullmatch(part):
        return part
    if '"' in part or "\\" in part:
        raise InvalidFilter(f"key {key!r}: quotes and backslashes cannot be used in key names")
    return f'"{part}"'


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()
