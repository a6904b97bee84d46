"""The Ximilar-style similarity API's shapes: its records, its ``status`` answers, its errors,
and the listings it offers (pages by number, random records) over a collection.

Its records hold ``_id``, one of ``_url`` / ``_base64`` / ``_file`` and free fields; here the
free fields are the record's metadata, and ``_url`` is the record's source when the image was
fetched from it. Its answers carry ``status: {"code", "text"}``, which its clients read instead
of the HTTP status, so errors on these routes carry it too (next to lookalike's ``error``).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from lookalike.api.compat.filters import metadata_filter
from lookalike.api.errors import ErrorBody, ErrorResponse, HTTPError, error_body, http_code
from lookalike.engine import Collection
from lookalike.errors import BadInput, LookalikeError
from lookalike.sources import is_url

DEFAULT_FIELDS = ("_id", "_url", "_file")
"""What a record shows when a request names no ``fields_to_return``."""
NOT_METADATA = frozenset({"_id", "_base64", "_img_data", "_color_space", "noresize"})
"""Record keys that are no free field: the id, image data and client-side options."""
RECORD_FIELDS = {"_id": "id", "_url": "source"}
"""Filter keys that address a record field rather than its metadata."""


class Status(BaseModel):
    code: int
    text: str


class XimilarErrorResponse(BaseModel):
    """An error of these routes, in the OpenAPI schema: the ``status`` their clients read,
    ``detail``, and lookalike's ``error`` beside them."""

    status: Status
    detail: str
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": XimilarErrorResponse, "description": "Refused; `status.text` says why"},
    400: {"model": XimilarErrorResponse, "description": "Bad request (a bad field included)"},
    401: {"model": XimilarErrorResponse, "description": "No API key"},
    403: {"model": XimilarErrorResponse, "description": "Wrong API key"},
    404: {"model": XimilarErrorResponse, "description": "Unknown collection or record"},
    413: {"model": ErrorResponse, "description": "Body over max_request_bytes"},
}
"""What these routes answer besides 200: never a 422 (a bad field is a 400), and a body over
the limit is refused before the route, in lookalike's shape only."""


def ok(**body: Any) -> dict[str, Any]:
    return {**body, "status": {"code": 200, "text": "OK"}}


def reason(error: LookalikeError) -> dict[str, Any]:
    """Why one record of a batch was skipped, in the shape of a whole answer's status."""
    return {"status": {"code": error.status, "text": error.message}}


def error_response(
    status: int,
    code: str,
    message: str,
    detail: Any = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An error answer: the ``status`` the clients read, ``detail`` as the hosted service's
    framework words it, and lookalike's own ``error``; ``extra`` adds fields (a batch's
    ``skipped_records``)."""
    body = {
        **extra,
        "status": {"code": status, "text": message},
        "detail": message,
        **error_body(code, message, detail),
    }
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


class XimilarRoute(APIRoute):
    """Answers this route's errors (the API key check included) in the Ximilar shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except LookalikeError as exc:
                return error_response(exc.status, exc.code, exc.message, exc.detail)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
                message = f"{where or 'body'}: {first.get('msg', 'invalid request')}"
                return error_response(400, "validation_error", message)
            except HTTPException as exc:
                message = exc.detail if isinstance(exc.detail, str) else "request refused"
                code = http_code(exc.status_code)
                detail = exc.error_detail if isinstance(exc, HTTPError) else None
                return error_response(exc.status_code, code, message, detail, exc.headers)

        return handle


def as_record(record: Any) -> Mapping[str, Any]:
    """``record`` if it is a JSON object; else ``BadInput``, which skips that record alone (a
    batch's records are not validated as a whole, so one bad entry cannot fail the rest)."""
    if isinstance(record, Mapping):
        return record
    kind = _JSON_TYPES.get(type(record), type(record).__name__)
    raise BadInput(f"each record must be a JSON object, not {kind}")


_JSON_TYPES = {
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    type(None): "null",
}


def record_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The free fields of an incoming record: its metadata (``_url`` and ``_file`` included,
    so they come back as fields; an image fetched from ``_url`` keeps it as its source)."""
    return {k: v for k, v in record.items() if k not in NOT_METADATA}


def shown(
    record_id: str,
    source: str | None,
    metadata: Mapping[str, Any],
    fields: Sequence[str] | None,
) -> dict[str, Any]:
    """A stored record as the answer shows it, limited to ``fields`` (``*`` for all)."""
    full: dict[str, Any] = {"_id": record_id}
    if source and is_url(source):
        full["_url"] = source
    full.update(metadata)
    full["_id"] = record_id
    wanted = DEFAULT_FIELDS if fields is None else fields
    if "*" in wanted:
        return full
    return {k: full[k] for k in ("_id", *wanted) if k in full}


def echo(record: Any, fields: Sequence[str] | None) -> dict[str, Any]:
    """An incoming record shown back, without its image data (nothing of one that is no JSON
    object: its ``_reason`` says so)."""
    if not isinstance(record, Mapping):
        return {}
    rid = record.get("_id")
    out = shown("" if rid is None else str(rid), None, record_fields(record), fields)
    if rid is None:
        del out["_id"]
    return out


def translate_filter(spec: Any) -> dict[str, Any] | None:
    return metadata_filter(spec, fields=RECORD_FIELDS)


class PageCursors:
    """Where page N of a listing starts, so that reading pages in order (as the clients do)
    costs one store read per page instead of re-reading every page before it."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._starts: OrderedDict[tuple[str, int], str] = OrderedDict()

    def nearest(self, listing: str, page: int) -> tuple[int, str | None]:
        """The latest remembered page at or before ``page`` and its cursor (page 1: None)."""
        with self._lock:
            best = max((p for (key, p) in self._starts if key == listing and p <= page), default=1)
            return best, self._starts.get((listing, best))

    def remember(self, listing: str, page: int, cursor: str) -> None:
        with self._lock:
            self._starts[(listing, page)] = cursor
            self._starts.move_to_end((listing, page))
            while len(self._starts) > self.capacity:
                self._starts.popitem(last=False)


def page_of(
    collection: Collection,
    *,
    filter: dict[str, Any] | None,
    size: int,
    page: int,
    cursors: PageCursors,
) -> tuple[list[dict[str, Any]], bool]:
    """Records of page ``page`` (from 1) of ``size`` each, and whether more pages follow."""
    listing = json.dumps([collection.name, size, filter], sort_keys=True, default=str)
    at, cursor = cursors.nearest(listing, page)
    while at < page:  # skip forward from the nearest remembered page
        skipped, cursor = collection.list_records(filter=filter, limit=size, offset=cursor)
        at += 1
        if cursor is None:
            return [], False
        cursors.remember(listing, at, cursor)
    records, after = collection.list_records(filter=filter, limit=size, offset=cursor)
    if after is not None:
        cursors.remember(listing, page + 1, after)
    return records, after is not None


def all_records(collection: Collection, filter: dict[str, Any] | None) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        chunk, cursor = collection.list_records(filter=filter, limit=1000, offset=cursor)
        records.extend(chunk)
        if cursor is None:
            return records


def random_records(
    collection: Collection, count: int, filter: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Up to ``count`` records drawn at random among those matching ``filter``."""
    return collection.random_records(count, filter=filter)
