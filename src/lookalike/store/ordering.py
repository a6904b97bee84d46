"""Scrolling a collection sorted by a datetime field, a page at a time, with a stable cursor.

Both backends sort by a payload field through a range index (Qdrant's ``order_by``), but that
gives no cursor, and records sharing a value (a batch indexed in the same microsecond) come in
no fixed order. So the seam pages itself, on two backend primitives: ``scroll_ordered`` (the
first points beyond a value, sorted by it) and the plain ``scroll`` (by point id, with a
cursor). The order is (value, point id) in the asked direction, then the records without the
field (or with one that is not a datetime) last, in point-id order; the cursor names where the
last page stopped:

- ``b`` value: every record up to and including ``value`` was given; go on beyond it;
- ``v`` value at: records equal to ``value`` are being given in point-id order from ``at``;
- ``m`` at: the records without the field, from ``at``.

A page costs one or two ordered reads of at most ``limit`` points, each starting in the range
index at the cursor's value (no sort of the collection, and no skipping over the records before
it), and, when a page ends inside a run of equal values, one filtered read of that run. Writes
between pages never repeat or skip a record that was there before and is still there: the
cursor is a position in the order, not a count.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from lookalike.errors import BadInput
from lookalike.filters import And, DateRange, Node, Not
from lookalike.payload import INDEXED_AT
from lookalike.store.base import Order, bad_cursor, check_offset, moment, point_id

if TYPE_CHECKING:
    from lookalike.store.base import CollectionStore, StoredPoint

__all__ = ["ORDER_FIELDS", "SORTS", "ordered_page", "parse_sort"]

ORDER_FIELDS: dict[str, str] = {"indexed_at": INDEXED_AT, "taken_at": "exif.taken_at"}
"""Sort names and the datetime payload field each sorts by (every backend range-indexes them)."""

SORTS: tuple[str, ...] = ("-indexed_at", "indexed_at", "-taken_at", "taken_at")
"""The sorts a listing takes: a field name, newest first with a leading ``-``."""

_EARLIEST = datetime(1, 1, 1, tzinfo=timezone.utc)


def parse_sort(sort: str) -> Order:
    """The order a sort name (:data:`SORTS`) stands for."""
    name = sort.strip()
    descending = name.startswith("-")
    field = ORDER_FIELDS.get(name.lstrip("-"))
    if field is None or name.count("-") > 1:
        raise BadInput(
            f"unknown sort {sort!r}: use one of {', '.join(SORTS)}",
            detail={"sort": sort, "known": list(SORTS)},
        )
    return Order(field, descending)


@dataclass(frozen=True)
class _Cursor:
    phase: str  # "b", "v" or "m" (module docstring)
    value: int | None = None
    at: str | None = None

    def encode(self, order: Order) -> str:
        value = "" if self.value is None else str(self.value)
        text = f"{order.field}|{int(order.descending)}|{self.phase}|{value}|{self.at or ''}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, order: Order) -> _Cursor:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        field, descending, phase, value, at = text.split("|")
        ok = field == order.field and descending == str(int(order.descending))
        if not ok or phase not in ("b", "v", "m") or (phase != "m" and not value):
            raise ValueError
        if value:
            moment(int(value))  # a value no datetime has is no cursor's
        if at:
            check_offset(at)
        return _Cursor(phase, int(value) if value else None, at or None)
    except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError, BadInput):
        raise bad_cursor(cursor, pages="a previous page of this sort") from None


def _both(filter: Node | None, node: Node) -> Node:
    return node if filter is None else And((filter, node))


def ordered_page(
    store: CollectionStore,
    order: Order,
    *,
    filter: Node | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[StoredPoint], str | None]:
    """One page of the points matching ``filter`` in ``order``, and the cursor of the next
    (None after the last; a last page may be empty)."""
    if limit < 1:
        raise BadInput("limit must be at least 1")
    at = _Cursor("b") if cursor is None else _decode(cursor, order)
    out: list[StoredPoint] = []
    key = order.field
    while len(out) < limit:
        need = limit - len(out)
        if at.phase == "v":
            assert at.value is not None
            when = moment(at.value)
            points, after = store.scroll(
                filter=_both(filter, DateRange(key, gte=when, lte=when)), limit=need, offset=at.at
            )
            out.extend(points)
            at = _Cursor("v", at.value, after) if after is not None else _Cursor("b", at.value)
        elif at.phase == "b":
            beyond: Node | None = None
            if at.value is not None:
                when = moment(at.value)
                beyond = DateRange(key, lt=when) if order.descending else DateRange(key, gt=when)
            got = store.scroll_ordered(
                order,
                filter=filter if beyond is None else _both(filter, beyond),
                limit=need,
                start=at.value,
            )
            sign = -1 if order.descending else 1
            got.sort(key=lambda pair: (sign * pair[0], point_id(pair[1].id)))
            if len(got) < need:  # every run of equal values is whole
                out.extend(point for _, point in got)
                at = _Cursor("m")
            else:  # the last run may go on beyond the page: it is read by point id
                last = got[-1][0]
                out.extend(point for value, point in got if value != last)
                at = _Cursor("v", last)
        else:
            missing = Not(DateRange(key, gte=_EARLIEST))
            points, after = store.scroll(filter=_both(filter, missing), limit=need, offset=at.at)
            out.extend(points)
            if after is None:
                return out, None
            at = _Cursor("m", None, after)
    return out, at.encode(order)
