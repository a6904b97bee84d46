"""The neutral filter tree (`lookalike.filters`) as a `qdrant_client` `Filter`.

The same translation as :mod:`lookalike.store.edge_filter`, in the server's models, closing the
same gaps between Qdrant's conditions and MongoDB's meaning (read that module's docstring): an
integer also matches the equal float, an inner key part is tried as object and as array, an
empty ``Or`` matches nothing, odd key parts are quoted. Booleans need no trick here: the
server's JSON keeps ``true`` apart from ``1``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from qdrant_client import models as m

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
from lookalike.store.edge_filter import MAX_PATH_PARTS, paths

__all__ = ["MAX_PATH_PARTS", "to_server_filter"]

_EXACT_FLOAT_INT = 2**53
Condition = Any
"""One of qdrant_client's condition models, or a nested Filter."""


def to_server_filter(node: Node | None, *, point_id: Callable[[str], str]) -> m.Filter | None:
    """Convert a parsed filter; `point_id` maps a record id to its point id (for `HasIds`)."""
    if node is None:
        return None
    condition = _condition(node, point_id)
    if isinstance(condition, m.Filter):
        return condition
    return m.Filter(must=[condition])


def _condition(node: Node, point_id: Callable[[str], str]) -> Condition:
    if isinstance(node, And):
        return m.Filter(must=[_condition(item, point_id) for item in node.items])
    if isinstance(node, Or):
        if not node.items:
            return m.HasIdCondition(has_id=[])
        return m.Filter(should=[_condition(item, point_id) for item in node.items])
    if isinstance(node, Not):
        return m.Filter(must_not=[_condition(node.item, point_id)])
    if isinstance(node, HasIds):
        return m.HasIdCondition(has_id=sorted({point_id(record_id) for record_id in node.ids}))
    if isinstance(node, IsEmpty):
        return _every([m.IsEmptyCondition(is_empty=m.PayloadField(key=p)) for p in paths(node.key)])
    if isinstance(node, IsNull):
        return _some([m.IsNullCondition(is_null=m.PayloadField(key=p)) for p in paths(node.key)])
    if isinstance(node, Match):
        return _some([c for p in paths(node.key) for c in _match(p, node.value)])
    if isinstance(node, MatchAny):
        return _some([c for p in paths(node.key) for c in _match_any(p, node.values)])
    if isinstance(node, Range):
        bounds = m.Range(gt=node.gt, gte=node.gte, lt=node.lt, lte=node.lte)
        return _some([m.FieldCondition(key=p, range=bounds) for p in paths(node.key)])
    if isinstance(node, DateRange):
        moments = m.DatetimeRange(gt=node.gt, gte=node.gte, lt=node.lt, lte=node.lte)
        return _some([m.FieldCondition(key=p, range=moments) for p in paths(node.key)])
    if isinstance(node, GeoRadius):
        circle = m.GeoRadius(center=m.GeoPoint(lon=node.lon, lat=node.lat), radius=node.meters)
        return _some([m.FieldCondition(key=p, geo_radius=circle) for p in paths(node.key)])
    if isinstance(node, GeoBox):
        box = m.GeoBoundingBox(
            top_left=m.GeoPoint(lon=node.west, lat=node.north),
            bottom_right=m.GeoPoint(lon=node.east, lat=node.south),
        )
        return _some([m.FieldCondition(key=p, geo_bounding_box=box) for p in paths(node.key)])
    raise InvalidFilter(f"cannot convert filter node {node!r}")


def _match(path: str, value: str | int | bool) -> list[Condition]:
    conditions: list[Condition] = [m.FieldCondition(key=path, match=m.MatchValue(value=value))]
    if isinstance(value, int) and not isinstance(value, bool):
        conditions.extend(_same_float(path, [value]))
    return conditions


def _match_any(path: str, values: tuple[str, ...] | tuple[int, ...]) -> list[Condition]:
    any_of = m.MatchAny(any=cast("list[str] | list[int]", list(values)))
    conditions: list[Condition] = [m.FieldCondition(key=path, match=any_of)]
    conditions.extend(_same_float(path, [v for v in values if isinstance(v, int)]))
    return conditions


def _same_float(path: str, values: Sequence[int]) -> list[Condition]:
    """Ranges matching floats equal to these integers (a stored 50.0 for 50)."""
    return [
        m.FieldCondition(key=path, range=m.Range(gte=float(v), lte=float(v)))
        for v in values
        if abs(v) < _EXACT_FLOAT_INT
    ]


def _some(conditions: list[Condition]) -> Condition:
    return conditions[0] if len(conditions) == 1 else m.Filter(should=conditions)


def _every(conditions: list[Condition]) -> Condition:
    return conditions[0] if len(conditions) == 1 else m.Filter(must=conditions)
