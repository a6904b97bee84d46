"""The core's result types rebuilt from the server's JSON, so a remote call returns what the
local one does (``SearchResult``, ``IngestReport``, ``Cluster``) and code using either stays the
same. Fields are read from the dataclasses themselves: a field added to a core type is carried
without a change here, and keys the types do not have are left out."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from lookalike.types import IngestReport

T = TypeVar("T")


def from_dict(cls: type[T], data: Any) -> T:
    """An instance of the dataclass ``cls`` from a JSON object, nested dataclasses included."""
    hints = get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        if f.name in data:
            values[f.name] = _value(hints[f.name], data[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            values[f.name] = None  # a server may leave out the fields that are null
    return cls(**values)


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if get_origin(hint) is list:
        (arg,) = get_args(hint)
        if dataclasses.is_dataclass(arg):
            return [from_dict(arg, v) for v in value]  # type: ignore[arg-type]
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return from_dict(hint, value)  # type: ignore[arg-type]
    if isinstance(value, list) and any(get_origin(a) is tuple for a in (hint, *get_args(hint))):
        return tuple(value)  # JSON has no tuples: a region comes back as the core gives it
    return value


def merge_reports(into: IngestReport, part: IngestReport) -> None:
    """Add the report of one request to the report of the whole run (counts add up, lists
    extend, flags combine; the run's duration is measured by the caller)."""
    for f in dataclasses.fields(IngestReport):
        mine, theirs = getattr(into, f.name), getattr(part, f.name)
        if f.name == "seconds":
            continue
        if isinstance(mine, bool):
            setattr(into, f.name, mine or theirs)
        elif isinstance(mine, int | float):
            setattr(into, f.name, mine + theirs)
        elif isinstance(mine, list):
            mine.extend(theirs)
