"""MongoDB-like metadata filters, parsed into a neutral condition tree.

Users already know MongoDB's query language, so filters are written in a subset of it; every
caller (API, CLI, compatibility routes) parses through `parse_filter`, and every store backend
converts the one tree it returns, so a filter means the same thing everywhere.

Supported: implicit equality and `$eq`, `$ne`, `$in`, `$nin`, `$gt`, `$gte`, `$lt`, `$lte`,
`$exists`, `$and`, `$or`, `$not` (on a field, and also at the top level, where MongoDB has
`$nor`), geo conditions on `{"lat", "lon"}` points (`$geoWithin` with `$centerSphere` or
`$box`, and `$near` with a GeoJSON point and `$maxDistance` in metres, which filters but does
not sort), dotted paths into nested metadata, arrays (a condition holds if any element
satisfies it; several operators on one field are separate conditions, so different elements may
satisfy them, as in MongoDB). Keys whose first dotted part is a record field address that
field; every other key lives under `metadata` (`payload_key`).

Deviations from MongoDB, because the stores cannot express the difference:

- an empty array counts as a missing field for `$exists` and for equality to `null`;
- range operators compare numbers, or datetimes when the operand is an ISO-8601 string (stored
  strings are then read as datetimes; a time without an offset is UTC); strings are never
  compared as text, and a range never matches booleans;
- equality to an array or an object is rejected rather than compared whole;
- a numeric dotted part (`tags.0`) names an object key, not an array position;
- `$exists` also accepts 0 and 1, but no other numbers.

The tree also has two values MongoDB cannot write: `And(())` matches everything and `Or(())`
matches nothing (`{"$in": []}`), and `HasIds`, for callers that exclude or restrict to records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NoReturn, TypeAlias

from lookalike.errors import InvalidFilter
from lookalike.payload import INT64_RANGE, METADATA, RECORD_FIELDS

MAX_DEPTH = 32
"""Deepest nesting of objects and lists a filter may have; stops hostile inputs early."""

_INT_MIN, _INT_MAX = INT64_RANGE


@dataclass(frozen=True, slots=True)
class And:
    """All items hold; `And(())` matches every record."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one item holds; `Or(())` matches no record."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class Match:
    """Exact equality (an array matches if any element equals); an int also equals that float."""

    key: str
    value: str | int | bool


@dataclass(frozen=True, slots=True)
class MatchAny:
    """Equality to any of the values, all of one type."""

    key: str
    values: tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Range:
    """Numeric bounds; booleans and strings never match."""

    key: str
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


@dataclass(frozen=True, slots=True)
class DateRange:
    """Datetime bounds (timezone-aware, UTC) over ISO-8601 strings in the payload."""

    key: str
    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None


@dataclass(frozen=True, slots=True)
class IsEmpty:
    """The field is missing, null or an empty array."""

    key: str


@dataclass(frozen=True, slots=True)
class IsNull:
    """The field is null (or an array holding null)."""

    key: str


@dataclass(frozen=True, slots=True)
class HasIds:
    """The record's user id is one of these."""

    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GeoRadius:
    """A `{"lat", "lon"}` point within `meters` of a centre (great-circle distance)."""

    key: str
    lon: float
    lat: float
    meters: float


@dataclass(frozen=True, slots=True)
class GeoBox:
    """A `{"lat", "lon"}` point inside a box; `west > east` crosses the 180th meridian."""

    key: str
    west: float
    south: float
    east: float
    north: float


Node: TypeAlias = (
    And
    | Or
    | Not
    | Match
    | MatchAny
    | Range
    | DateRange
    | IsEmpty
    | IsNull
    | HasIds
    | GeoRadius
    | GeoBox
)

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius: turns `$centerSphere` radians into metres."""

_LOGICAL_OPS = frozenset({"$and", "$or", "$not"})
_RANGE_OPS = frozenset({"$gt", "$gte", "$lt", "$lte"})
_GEO_OPS = frozenset({"$geoWithin", "$near", "$nearSphere"})
_FIELD_OPS = frozenset({"$eq", "$ne", "$in", "$nin", "$exists", "$not"}) | _RANGE_OPS | _GEO_OPS
_SUPPORTED = ", ".join(sorted(_LOGICAL_OPS | _FIELD_OPS))


def payload_key(user_key: str, record_fields: frozenset[str] = RECORD_FIELDS) -> str:
    """Where a user's key lives in the payload: record fields as they are, the rest in metadata."""
    if user_key.split(".", 1)[0] in record_fields:
        return user_key
    return f"{METADATA}.{user_key}"


def parse_filter(
    spec: Mapping[str, Any] | str | None, *, record_fields: frozenset[str] = RECORD_FIELDS
) -> Node | None:
    """Parse a filter object (or its JSON text); None when it filters nothing out."""
    if isinstance(spec, str):
        try:
            spec = json.loads(spec, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise InvalidFilter(f"filter is not valid JSON: {exc}") from None
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise InvalidFilter(f"a filter must be a JSON object, got {_type_name(spec)}")
    if not spec:
        return None
    return _Parser(record_fields).document(spec, 1)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number a filter can use")


class _Parser:
    def __init__(self, record_fields: frozenset[str]) -> None:
        self.record_fields = record_fields

    def document(self, spec: Mapping[Any, Any], depth: int) -> Node:
        _check_depth(depth)
        items: list[Node] = []
        for key, value in spec.items():
            if not isinstance(key, str):
                raise InvalidFilter(f"filter keys must be strings, got {key!r}")
            if key.startswith("$"):
                items.append(self.logical(key, value, depth))
            else:
                items.append(self.field(key, value, depth))
        return _all(items)

    def logical(self, op: str, value: Any, depth: int) -> Node:
        if op in ("$and", "$or"):
            if not isinstance(value, list | tuple):
                raise InvalidFilter(f"{op} needs a list of filters, got {_type_name(value)}")
            if not value:
                raise InvalidFilter(f"{op} needs a non-empty list of filters")
            _check_depth(depth + 1)
            subs: list[Node] = []
            for sub in value:
                if not isinstance(sub, Mapping):
                    raise InvalidFilter(f"{op} items must be filter objects, got {_type_name(sub)}")
                subs.append(self.document(sub, depth + 2))
            return And(tuple(subs)) if op == "$and" else Or(tuple(subs))
        if op == "$not":
            if not isinstance(value, Mapping) or not value:
                raise InvalidFilter(f"$not needs a non-empty filter object, got {_brief(value)}")
            return Not(self.document(value, depth + 1))
        if op in _FIELD_OPS:
            raise InvalidFilter(f'{op} applies to a field, e.g. {{"price": {{"{op}": ...}}}}')
        raise InvalidFilter(f"unsupported operator {op} (supported: {_SUPPORTED})")

    def field(self, user_key: str, value: Any, depth: int) -> Node:
        key = self.key(user_key)
        if isinstance(value, Mapping) and value:
            names = list(value)
            for name in names:
                if not isinstance(name, str):
                    raise InvalidFilter(f"filter keys must be strings, got {name!r}")
            if all(name.startswith("$") for name in names):
                return self.operators(user_key, key, value, depth + 1)
            if any(name.startswith("$") for name in names):
                raise InvalidFilter(f"the condition on {user_key!r} mixes operators and fields")
        return _equals(user_key, key, value, "equality")

    def operators(self, user_key: str, key: str, ops: Mapping[str, Any], depth: int) -> Node:
        _check_depth(depth)
        items: list[Node] = []
        for op, arg in ops.items():
            if op == "$eq":
                items.append(_equals(user_key, key, arg, op))
            elif op == "$ne":
                items.append(Not(_equals(user_key, key, arg, op)))
            elif op in ("$in", "$nin"):
                _check_depth(depth + 1)
                found = _any_of(user_key, key, arg, op)
                items.append(found if op == "$in" else Not(found))
            elif op in _RANGE_OPS:
                items.append(_range(user_key, key, op, arg))
            elif op == "$exists":
                items.append(_exists(user_key, key, arg))
            elif op == "$geoWithin":
                items.append(_geo_within(user_key, key, arg))
            elif op in ("$near", "$nearSphere"):
                items.append(_near(user_key, key, op, arg))
            elif op == "$not":
                if (
                    not isinstance(arg, Mapping)
                    or not arg
                    or not all(isinstance(name, str) and name.startswith("$") for name in arg)
                ):
                    raise InvalidFilter(
                        f"$not on {user_key!r} needs an object of operators, "
                        f'e.g. {{"$not": {{"$gt": 5}}}}, got {_brief(arg)}'
                    )
                items.append(Not(self.operators(user_key, key, arg, depth + 1)))
            elif op in _LOGICAL_OPS:
                raise InvalidFilter(f"{op} combines filters; it cannot be used inside {user_key!r}")
            else:
                raise InvalidFilter(f"unsupported operator {op} (supported: {_SUPPORTED})")
        return _all(items)

    def key(self, user_key: str) -> str:
        parts = user_key.split(".")
        if not all(parts):
            raise InvalidFilter(f"invalid key {user_key!r}: empty part in dotted path")
        if any(part.startswith("$") for part in parts):
            raise InvalidFilter(f"invalid key {user_key!r}: positional operators are not supported")
        return payload_key(user_key, self.record_fields)


def _equals(user_key: str, key: str, value: Any, op: str) -> Node:
    if value is None:
        return _is_null_or_missing(key)
    if isinstance(value, bool | str):
        return Match(key, value)
    if isinstance(value, int):
        return Match(key, _int(user_key, value))
    if isinstance(value, float):
        v = _finite(user_key, value)
        return Range(key, gte=v, lte=v)
    if isinstance(value, Mapping | list | tuple):
        raise InvalidFilter(
            f"{op} to a list or object on {user_key!r} is not supported; "
            f"use $in for any of several values"
        )
    raise InvalidFilter(f"{op} on {user_key!r}: unsupported value type {_type_name(value)}")


def _any_of(user_key: str, key: str, values: Any, op: str) -> Node:
    if not isinstance(values, list | tuple):
        raise InvalidFilter(f"{op} on {user_key!r} needs a list, got {_type_name(values)}")
    strs: list[str] = []
    ints: list[int] = []
    others: list[Node] = []
    for value in values:
        if isinstance(value, str):
            strs.append(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            ints.append(_int(user_key, value))
        elif value is None or isinstance(value, bool | float):
            others.append(_equals(user_key, key, value, op))
        else:
            raise InvalidFilter(
                f"{op} on {user_key!r}: items must be strings, numbers, booleans or null, "
                f"got {_type_name(value)}"
            )
    parts: list[Node] = []
    if strs:
        parts.append(MatchAny(key, tuple(dict.fromkeys(strs))))
    if ints:
        parts.append(MatchAny(key, tuple(dict.fromkeys(ints))))
    parts.extend(dict.fromkeys(others))
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def _range(user_key: str, key: str, op: str, value: Any) -> Node:
    bound = op[1:]
    if isinstance(value, int | float) and not isinstance(value, bool):
        v = _finite(user_key, float(value))
        return Range(key, **{bound: v})
    if isinstance(value, str):
        moment = _parse_datetime(value)
        if moment is not None:
            return DateRange(key, **{bound: moment})
    raise InvalidFilter(
        f"{op} on {user_key!r} needs a number or an ISO-8601 datetime string, got {_brief(value)}"
    )


def _geo_within(user_key: str, key: str, arg: Any) -> Node:
    shapes = ("$centerSphere", "$box")
    if not isinstance(arg, Mapping) or len(arg) != 1 or next(iter(arg)) not in shapes:
        raise InvalidFilter(
            f"$geoWithin on {user_key!r} needs one shape, "
            f'{{"$centerSphere": [[lon, lat], radians]}} or {{"$box": [[lon, lat], [lon, lat]]}}, '
            f"got {_brief(arg)}"
        )
    shape, value = next(iter(arg.items()))
    if shape == "$centerSphere":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise InvalidFilter(
                f"$centerSphere on {user_key!r} needs [[lon, lat], radians], got {_brief(value)}"
            )
        lon, lat = _point(user_key, value[0], shape)
        radians = _positive(user_key, value[1], f"{shape} radius (radians)")
        return GeoRadius(key, lon, lat, radians * EARTH_RADIUS_M)
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InvalidFilter(
            f"$box on {user_key!r} needs [[lon, lat] of the south-west corner, "
            f"[lon, lat] of the north-east corner], got {_brief(value)}"
        )
    (west, south), (east, north) = (
        _point(user_key, value[0], shape),
        _point(user_key, value[1], shape),
    )
    if south > north:
        raise InvalidFilter(
            f"$box on {user_key!r}: the first corner is the south-west one, "
            f"its latitude {south} is north of {north}"
        )
    return GeoBox(key, west, south, east, north)


def _near(user_key: str, key: str, op: str, arg: Any) -> Node:
    example = f'{{"{op}": {{"$geometry": {{"type": "Point", "coordinates": [lon, lat]}}, '
    example += '"$maxDistance": metres}}'
    if not isinstance(arg, Mapping) or "$geometry" not in arg or "$maxDistance" not in arg:
        raise InvalidFilter(f"{op} on {user_key!r} needs {example}, got {_brief(arg)}")
    unknown = set(arg) - {"$geometry", "$maxDistance", "$minDistance"}
    if unknown:
        raise InvalidFilter(f"{op} on {user_key!r}: unsupported {', '.join(sorted(unknown))}")
    geometry = arg["$geometry"]
    if (
        not isinstance(geometry, Mapping)
        or geometry.get("type") != "Point"
        or set(geometry) != {"type", "coordinates"}
    ):
        raise InvalidFilter(f"{op} on {user_key!r}: $geometry must be a GeoJSON Point, {example}")
    lon, lat = _point(user_key, geometry["coordinates"], op)
    near = GeoRadius(key, lon, lat, _positive(user_key, arg["$maxDistance"], "$maxDistance"))
    if "$minDistance" not in arg:
        return near
    floor = _positive(user_key, arg["$minDistance"], "$minDistance")
    return And((near, Not(GeoRadius(key, lon, lat, floor))))


def _point(user_key: str, value: Any, op: str) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise InvalidFilter(f"{op} on {user_key!r}: a point is [lon, lat], got {_brief(value)}")
    lon, lat = (_finite(user_key, float(v)) for v in value)
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InvalidFilter(
            f"{op} on {user_key!r}: [{lon}, {lat}] is not a [lon, lat] point "
            "(longitude -180..180, latitude -90..90)"
        )
    return lon, lat


def _positive(user_key: str, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidFilter(f"{what} on {user_key!r} must be a number, got {_brief(value)}")
    number = _finite(user_key, float(value))
    if number < 0:
        raise InvalidFilter(f"{what} on {user_key!r} must not be negative, got {number}")
    return number


def _exists(user_key: str, key: str, value: Any) -> Node:
    if not isinstance(value, bool | int) or value not in (0, 1):
        raise InvalidFilter(f"$exists on {user_key!r} needs true or false, got {_brief(value)}")
    if value:
        return Or((Not(IsEmpty(key)), IsNull(key)))
    return And((IsEmpty(key), Not(IsNull(key))))


def _is_null_or_missing(key: str) -> Node:
    return Or((IsEmpty(key), IsNull(key)))


def _parse_datetime(text: str) -> datetime | None:
    """An ISO-8601 string as an aware UTC datetime (no offset means UTC), or None."""
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _int(user_key: str, value: int) -> int:
    if not _INT_MIN <= value <= _INT_MAX:
        raise InvalidFilter(f"integer {value} on {user_key!r} is outside the 64-bit range")
    return value


def _finite(user_key: str, value: float) -> float:
    if not math.isfinite(value):
        raise InvalidFilter(f"{value} on {user_key!r} is not a finite number")
    return value


def _all(items: Sequence[Node]) -> Node:
    return items[0] if len(items) == 1 else And(tuple(items))


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidFilter(f"filter is nested deeper than {MAX_DEPTH} levels")


def _brief(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: Any) -> str:
    names = {dict: "object", list: "list", tuple: "list", str: "string", bool: "boolean"}
    if value is None:
        return "null"
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__
