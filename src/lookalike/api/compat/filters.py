"""Filters written against a hosted service's records, rewritten into lookalike's filter
language (``lookalike.filters`` parses the result, so the operators mean the same everywhere).

In those services a record's free fields sit next to its id; in lookalike they live under
``metadata``. Only field names change: operators and values pass through untouched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lookalike.errors import InvalidFilter
from lookalike.filters import MAX_DEPTH


def metadata_filter(spec: Any, *, fields: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """``spec`` with each field name moved under ``metadata.``, except those ``fields`` maps
    to a record field (``{"_id": "id"}``). None or ``{}`` filters nothing out."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise InvalidFilter(f"filter must be a JSON object, got {type(spec).__name__}")
    return _document(spec, dict(fields or {}), 1) or None


def _document(spec: Mapping[Any, Any], fields: dict[str, str], depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise InvalidFilter(f"filter is nested more than {MAX_DEPTH} levels deep")
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if not isinstance(key, str):
            raise InvalidFilter(f"filter keys must be strings, got {key!r}")
        if key.startswith("$"):  # $and / $or / $not hold whole documents: rename inside them
            out[key] = _logical(value, fields, depth + 1)
        else:
            out[fields.get(key, f"metadata.{key}")] = value
    return out


def _logical(value: Any, fields: dict[str, str], depth: int) -> Any:
    if isinstance(value, Mapping):
        return _document(value, fields, depth)
    if isinstance(value, list):
        return [_document(v, fields, depth) if isinstance(v, Mapping) else v for v in value]
    return value  # not a document: parse_filter names the mistake
