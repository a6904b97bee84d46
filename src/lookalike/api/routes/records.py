"""Records: add (JSON, multipart upload, JSONL), get, update, delete, list, count, thumbnails.

Adding answers with one outcome per item; a batch of more than :data:`SYNC_MAX_ITEMS` items
(or one sent with ``background``) becomes a job (``202``, then ``GET /jobs/{id}``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from lookalike.api.errors import error_responses
from lookalike.api.inputs import (
    check_count,
    json_body,
    jsonl_body,
    jsonl_items,
    multipart_body,
    request_items,
    upload_items,
)
from lookalike.api.jobs import job_registry
from lookalike.api.schemas import OnDuplicateField, RecordsAdd, RecordsDelete, RecordUpdate
from lookalike.api.state import ServerState, State
from lookalike.decode_workers import POOL_MIN_ITEMS
from lookalike.errors import BadInput, NotFound
from lookalike.sources import Item, ItemError

router = APIRouter(tags=["records"])

Sort = Literal["-indexed_at", "indexed_at", "-taken_at", "taken_at"]


class AnyText(Convertor[str]):
    """A path parameter that may hold any character, newlines included (Starlette's ``path``
    stops at a newline, so such a record could be added but not read back)."""

    regex = r"(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anything", AnyText())

SYNC_MAX_ITEMS = POOL_MIN_ITEMS - 1
"""Batches up to this size are answered when done, decoded in this process; larger ones run as
a job unless told otherwise (starting decode worker processes costs a second or more, which a
waiting request should not pay)."""
THUMBNAIL_MAX_AGE = 300
"""Seconds a client may reuse a thumbnail before asking again (with its ETag)."""

_RECORDS = "/collections/{name}/records"
_ADD_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "the batch's report: one outcome per item"},
    202: {"description": "a job, for a large batch or `background`: GET /jobs/{id} (Location)"},
    **error_responses(400, 401, 403, 404, 413, 415, 422),
}
_JSONL_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    }
}


@router.post(
    _RECORDS, response_model=None, dependencies=[Depends(json_body)], responses=_ADD_ANSWERS
)
def add_records(name: str, body: RecordsAdd, state: State) -> dict[str, Any] | JSONResponse:
    items = request_items(body.items, state.settings)
    return _ingest(state, name, items, body.on_duplicate, body.background)


@router.post(
    f"{_RECORDS}/upload",
    response_model=None,
    dependencies=[Depends(multipart_body)],
    responses=_ADD_ANSWERS,
)
def upload_records(
    name: str,
    state: State,
    files: Annotated[list[UploadFile], File(description="one or many image files")],
    metadata: Annotated[
        str | None, Form(description="JSON: one object for all files, or a list, one per file")
    ] = None,
    ids: Annotated[
        list[str] | None, Form(description="one id per file (repeat the field, or a JSON list)")
    ] = None,
    group: Annotated[str | None, Form()] = None,
    on_duplicate: Annotated[OnDuplicateField, Form()] = "allow",
    background: Annotated[bool | None, Form()] = None,
) -> dict[str, Any] | JSONResponse:
    check_count(len(files), state.settings, "files")
    uploads = [(f.filename or "", f.file.read()) for f in files]
    items = upload_items(
        uploads,
        state.settings,
        ids=_ids(ids),
        metadata=_metadata(metadata),
        group=group,
    )
    return _ingest(state, name, items, on_duplicate, background)


@router.post(
    f"{_RECORDS}/jsonl", response_model=None, openapi_extra=_JSONL_BODY, responses=_ADD_ANSWERS
)
def add_jsonl(
    name: str,
    state: State,
    body: Annotated[bytes, Depends(jsonl_body)],
    on_duplicate: OnDuplicateField = "allow",
    background: bool | None = None,
) -> dict[str, Any] | JSONResponse:
    items = jsonl_items(body, state.settings)
    return _ingest(state, name, items, on_duplicate, background)


@router.post(
    f"{_RECORDS}/delete",
    dependencies=[Depends(json_body)],
    responses=error_responses(400, 401, 403, 404, 413, 415, 422),
)
def delete_records(name: str, body: RecordsDelete, state: State) -> dict[str, Any]:
    check_count(len(body.ids), state.settings, "ids")
    return {"deleted": state.collection(name).delete(body.ids)}


@router.get(_RECORDS, responses=error_responses(400, 401, 403, 404, 422))
def list_records(
    name: str,
    state: State,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: str | None = None,
    filter: Annotated[str | None, Query(description="a filter as JSON")] = None,
    sort: Annotated[
        Sort | None,
        Query(
            description="`-indexed_at`: newest first; `indexed_at`: oldest first; "
            "`-taken_at`: latest capture time (EXIF) first; `taken_at`: earliest first; records "
            "without the time come last. Absent: the store's order. Page on with `next_offset`, "
            "keeping the same sort."
        ),
    ] = None,
) -> dict[str, Any]:
    records, next_offset = state.collection(name).list_records(
        filter=filter, limit=limit, offset=offset, sort=sort
    )
    return {"records": records, "next_offset": next_offset}


@router.get("/collections/{name}/count", responses=error_responses(400, 401, 403, 404, 422))
def count_records(
    name: str,
    state: State,
    filter: Annotated[str | None, Query(description="a filter as JSON")] = None,
) -> dict[str, Any]:
    return {"count": state.collection(name).count(filter)}


@router.get(f"{_RECORDS}/{{record_id:anything}}", responses=error_responses(401, 403, 404, 422))
def get_record(name: str, record_id: str, state: State) -> dict[str, Any]:
    return state.collection(name).get(record_id)


@router.patch(
    f"{_RECORDS}/{{record_id:anything}}",
    dependencies=[Depends(json_body)],
    responses=error_responses(400, 401, 403, 404, 413, 415, 422),
)
def update_record(name: str, record_id: str, body: RecordUpdate, state: State) -> dict[str, Any]:
    return state.collection(name).update(
        record_id, metadata=body.metadata, group=body.group, merge=body.merge
    )


@router.delete(f"{_RECORDS}/{{record_id:anything}}", responses=error_responses(401, 403, 404, 422))
def delete_record(name: str, record_id: str, state: State) -> dict[str, Any]:
    collection = state.collection(name)
    if not collection.delete([record_id])[record_id]:
        raise NotFound(f"no record {record_id!r} in collection {name!r}")
    return {"deleted": record_id}


@router.get(
    "/collections/{name}/thumbnails/{record_id:anything}",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}},
        304: {"description": "not modified"},
        **error_responses(401, 403, 404, 422),
    },
)
def thumbnail(name: str, record_id: str, request: Request, state: State) -> Response:
    data = state.collection(name).thumbnail(record_id)
    etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={THUMBNAIL_MAX_AGE}"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="image/jpeg", headers=headers)


def _ingest(
    state: ServerState,
    name: str,
    items: Sequence[Item | ItemError],
    on_duplicate: OnDuplicateField,
    background: bool | None,
) -> dict[str, Any] | JSONResponse:
    collection = state.collection(name)
    if background is None:
        background = len(items) > SYNC_MAX_ITEMS
    if not background:
        return collection.add(items, on_duplicate=on_duplicate).to_dict()
    if on_duplicate != "allow" and "duplicate" not in collection.config["signals"]:
        raise BadInput(f"on_duplicate needs the duplicate signal, which {name!r} does not have")
    job = job_registry(state).submit(collection, items, on_duplicate=on_duplicate)
    return JSONResponse(job.to_dict(), status_code=202, headers={"Location": f"/jobs/{job.id}"})


def _ids(values: list[str] | None) -> list[str] | None:
    if values is not None and len(values) == 1 and values[0].lstrip().startswith("["):
        parsed = _json_field("ids", values[0])
        if not isinstance(parsed, list) or not all(isinstance(v, str | int) for v in parsed):
            raise BadInput("ids: expected a JSON list of strings")
        return [str(v) for v in parsed]
    return values


def _metadata(value: str | None) -> dict[str, Any] | list[dict[str, Any]] | None:
    if value is None or not value.strip():
        return None
    parsed = _json_field("metadata", value)
    if isinstance(parsed, dict):
        return parsed
    if isinstance(parsed, list) and all(isinstance(v, dict) for v in parsed):
        return parsed
    raise BadInput("metadata: expected a JSON object, or a list of objects (one per file)")


def _json_field(field: str, value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError as exc:
        raise BadInput(f"{field}: not valid JSON ({exc})") from None
