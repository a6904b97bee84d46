"""Vecstore-style routes under ``/api`` (the hosted base URL ends in ``/api``), so code written
for that service runs against this server by changing the scheme and host of its base URL.

A database id is a collection name; a database that does not exist yet is created by its first
insert with the server's default signals. See docs/compatibility.md.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lookalike.api.compat.filters import metadata_filter
from lookalike.api.compat.records import add_items
from lookalike.api.errors import error_responses
from lookalike.api.inputs import fetch_query_image, image_url, json_body, make_item, query_image
from lookalike.api.schemas import whole_number
from lookalike.api.state import ServerState, State
from lookalike.errors import BadInput
from lookalike.search import MAX_TOP_K

router = APIRouter(prefix="/api", tags=["compatibility: Vecstore"])

_NAMES = ("image_url", "image")
_TEXT_DOCUMENTS = "this server indexes images: send image_url or image (base64), not content"


class DocumentRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    image_url: str | None = Field(default=None, description="http(s) URL of the image.")
    image: str | None = Field(default=None, description="The image as base64 (or a data: URL).")
    content: str | None = Field(default=None, description="Text documents are not supported here.")
    metadata: dict[str, Any] | None = None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    query: str | None = Field(default=None, description="Text query (the tutorials' name).")
    content: str | None = Field(default=None, description="Text query (the reference's name).")
    image_url: str | None = None
    image: str | None = Field(default=None, description="Query image as base64.")
    top_k: int = Field(default=10, ge=1, le=MAX_TOP_K)
    metadata: dict[str, Any] | None = Field(
        default=None, description="Filter on metadata: equality, `$in` and the other operators."
    )
    page: int | None = Field(default=None, ge=1)
    per_page: int | None = Field(default=None, ge=1)

    @field_validator("top_k", "page", "per_page", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        return whole_number(value)


@router.post(
    "/databases/{db_id}/documents",
    dependencies=[Depends(json_body)],
    responses=error_responses(400, 401, 403, 413, 415, 422),
)
def insert_document(db_id: str, body: DocumentRequest, state: State) -> dict[str, Any]:
    """Index one image with its metadata; answers its `vector_id`."""
    start = time.perf_counter()
    if body.content is not None:
        raise BadInput(_TEXT_DOCUMENTS)
    item = make_item(
        url=body.image_url,
        base64=body.image,
        metadata=body.metadata,
        settings=state.settings,
        names=_NAMES,
    )
    (error,) = add_items(state, db_id, [item])
    if error is not None:
        raise error
    return {"vector_id": item.id, "time": _took(start)}


@router.post(
    "/databases/{db_id}/search",
    dependencies=[Depends(json_body)],
    responses=error_responses(400, 401, 403, 404, 413, 415, 422),
)
async def search(db_id: str, body: SearchRequest, state: State) -> dict[str, Any]:
    """Search by text, image URL or base64 image, or by metadata alone (scores are then 0)."""
    start = time.perf_counter()
    fetched = None
    if body.image_url is not None and body.image is None and _text(body) is None:
        url = image_url(body.image_url, _NAMES[0])  # fetched off the request threads
        await run_in_threadpool(state.collection, db_id)  # an unknown database: 404 first
        fetched = await fetch_query_image(url, state)
    return await run_in_threadpool(_search, db_id, body, state, fetched, start)


def _text(body: SearchRequest) -> str | None:
    if body.query is not None and body.content is not None:
        raise BadInput("give query or content, not both")
    return body.query if body.query is not None else body.content


def _search(
    db_id: str, body: SearchRequest, state: ServerState, fetched: bytes | None, start: float
) -> dict[str, Any]:
    text = _text(body)
    image: bytes | str | None = fetched
    if image is None:
        image = query_image(
            url=body.image_url,
            base64=body.image,
            max_bytes=state.settings.max_image_bytes,
            names=_NAMES,
        )
    if text is not None and image is not None:
        raise BadInput("give a text or an image, not both")
    collection = state.collection(db_id)
    filter = metadata_filter(body.metadata)
    if text is None and image is None:
        records, _ = collection.list_records(filter=filter, limit=body.top_k)
        results = [_result(r["id"], 0.0, r["metadata"]) for r in records]
    else:
        found = collection.search(text=text, image=image, filter=filter, top_k=body.top_k)
        results = [_result(r.id, r.score, r.metadata) for r in found]
    if body.page is not None or body.per_page is not None:
        per_page = body.per_page or body.top_k
        first = ((body.page or 1) - 1) * per_page
        results = results[first : first + per_page]
    return {"results": results, "time": _took(start)}


def _result(record_id: str, score: float, metadata: dict[str, Any]) -> dict[str, Any]:
    return {"vector_id": record_id, "score": round(score, 6), "metadata": metadata}


def _took(start: float) -> str:
    return f"{round((time.perf_counter() - start) * 1000)}ms"
