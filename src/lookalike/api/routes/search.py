"""Search: one JSON route (image by URL, base64 or record id; text; raw vector) and one
multipart route for an uploaded query image. Both call :meth:`Collection.search`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import FormData, UploadFile

from lookalike.api.errors import error_responses
from lookalike.api.inputs import (
    HTTP_URL,
    fetch_query_image,
    http_only,
    json_body,
    missing_file,
    multipart_form,
    upload_bytes,
)
from lookalike.api.schemas import Finite, PersonName, whole_number
from lookalike.api.state import ServerState, State
from lookalike.engine import Collection
from lookalike.search import MAX_TOP_K
from lookalike.sources import decode_base64
from lookalike.stages import server_timing, stage, timed

router = APIRouter(tags=["search"])

ERRORS = error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503)


class WeightedExample(BaseModel):
    """An example with a weight: its similarity counts ``weight`` times (docs/searching.md)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0.0, le=100.0)


class SearchOptions(BaseModel):
    """What a query may add to its image, text, id or vector."""

    model_config = ConfigDict(extra="forbid", strict=True)

    region: list[Finite] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="[left, top, right, bottom] in pixels of the query image, or as fractions "
        "of its width and height when all four are at most 1.",
    )
    positive: list[str | WeightedExample] = Field(
        default=[],
        max_length=100,
        description='Examples to move toward: ids, or {"id": ..., "weight": 2} objects.',
    )
    negative: list[str | WeightedExample] = Field(
        default=[], max_length=100, description="Examples to move away from, as positive."
    )
    filter: dict[str, Any] | None = Field(
        default=None, description="MongoDB-like (docs/filters.md)."
    )
    group: bool = Field(default=False, description="One best result per group (product id).")
    group_score: Literal["max", "mean"] = Field(
        default="max",
        description="How a group scores from its photos: its best one (max), or the mean of its "
        "best group_top ones (a missing one counting 0).",
    )
    group_top: int = Field(default=3, ge=1, le=50, description="Photos a mean group score counts.")
    top_k: int = Field(default=10, ge=1, le=MAX_TOP_K)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, description="Minimum score.")
    signal: str | None = Field(
        default=None,
        description="Signal to rank by, one of the collection's: semantic, duplicate, faces, text.",
    )
    face: int | None = Field(
        default=None, ge=0, le=1000, description="Face search by this face (0 = the largest)."
    )
    box: list[Finite] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="Face search by the face in [left, top, right, bottom] (query pixels).",
    )
    person: int | PersonName | None = Field(
        default=None, description="Every image of this person (id or name); faces signal."
    )
    scores: list[str] = Field(
        default=[],
        max_length=16,
        description="Image queries: signals to score the results by whatever it costs (faces: "
        "a detector run; duplicate in a semantic search: the query's 512 px image and hash); "
        "the semantic score, and the duplicate one where the query decoded that image anyway, "
        "come without asking.",
    )

    @field_validator("top_k", "group_top", "face", "person", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        return whole_number(value)


QUERY_KINDS = ("image_url", "image_base64", "id", "text", "vector", "person")


def _one_query(schema: dict[str, Any]) -> None:
    """Say in the schema what the search checks: exactly one kind of query, or positives."""
    empty = {k: {"type": "null"} for k in QUERY_KINDS}
    schema["oneOf"] = [
        {"required": [k], "properties": {**empty, k: {"not": {"type": "null"}}}}
        for k in QUERY_KINDS
    ] + [{"required": ["positive"], "properties": {**empty, "positive": {"minItems": 1}}}]


class SearchRequest(SearchOptions):
    """A query: exactly one of image_url, image_base64, id, text, vector, person (or only
    positives)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_one_query)

    image_url: str | None = Field(
        default=None,
        max_length=8192,
        json_schema_extra={"pattern": HTTP_URL},
        description="An http(s) URL.",
    )
    image_base64: str | None = Field(default=None, description="Base64 or a data: URL.")
    id: str | None = Field(default=None, description="Neighbours of this record (itself left out).")
    text: str | None = Field(default=None, max_length=2000, pattern=r"\S")
    vector: list[Finite] | None = Field(default=None, max_length=65536)

    @field_validator("image_url")
    @classmethod
    def _http_only(cls, url: str | None) -> str | None:
        return http_only(url)


class SearchHit(BaseModel):
    id: str
    score: float
    source: str | None = None
    group: str | None = None
    metadata: dict[str, Any] = {}
    scores: dict[str, float] = {}
    match: dict[str, Any] | None = Field(
        default=None,
        description="Duplicate searches: inliers and the matched regions; face searches: the "
        "matched face (face, box, person, name); text searches: the lines holding query words.",
    )
    thumbnail_url: str | None = Field(
        default=None, description="When the collection keeps thumbnails."
    )
    safe: bool | None = Field(
        default=None, description="The moderation signal's verdict, when the collection has it."
    )


class SearchResponse(BaseModel):
    results: list[SearchHit]
    took_ms: float


@router.post(
    "/collections/{name}/search",
    dependencies=[Depends(json_body)],
    response_model=SearchResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
)
async def search(
    name: str, body: SearchRequest, state: State, response: Response
) -> dict[str, Any]:
    """Search a collection by image (URL or base64), record id, text or raw vector.

    The ``Server-Timing`` header tells where the time went (``base64``, ``decode``, ``embed``,
    ``store``, ``queue``, ``verify``, and the whole ``search``, in ms)."""
    if body.image_url is not None:  # an unknown collection: 404 before fetching
        await run_in_threadpool(state.collection, name)
    fetched = await fetch_query_image(body.image_url, state)
    return await run_in_threadpool(_search_json, state, name, body, fetched, response)


def _search_json(
    state: ServerState,
    name: str,
    body: SearchRequest,
    fetched: bytes | None,
    response: Response,
) -> dict[str, Any]:
    collection = state.collection(name)  # an unknown collection: 404 before the decode
    with timed() as stages:
        image = fetched
        if body.image_base64 is not None:
            with stage("base64"):
                image = decode_base64(body.image_base64, max_bytes=state.settings.max_image_bytes)
        query = body.model_dump(exclude={"image_url", "image_base64"})
        return _search(state, name, collection, image, query, response, stages)


def _upload_body() -> dict[str, Any]:
    """The multipart body as documented: ``query`` is a JSON part holding the options."""
    options = SearchOptions.model_json_schema(ref_template="#/components/schemas/{model}")
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["image"],
                        "properties": {
                            "image": {"type": "string", "format": "binary"},
                            "query": options,
                        },
                    },
                    "encoding": {"query": {"contentType": "application/json"}},
                }
            },
        }
    }


async def _form(request: Request) -> AsyncIterator[FormData]:
    form = await multipart_form(request, max_files=1, max_fields=4)
    try:
        yield form
    finally:
        await form.close()


@router.post(
    "/collections/{name}/search/upload",
    response_model=SearchResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    openapi_extra=_upload_body(),
)
def search_upload(
    name: str, state: State, form: Annotated[FormData, Depends(_form)], response: Response
) -> dict[str, Any]:
    """Search a collection with an uploaded image: the multipart parts ``image`` (the file)
    and ``query`` (a JSON object of the options above). No base64 to decode: the cheaper way
    to send a large query image."""
    image = form.get("image")
    if not isinstance(image, UploadFile):
        raise missing_file("image")
    query = form.get("query")
    if isinstance(query, UploadFile):
        raise RequestValidationError(
            [{"loc": ("body", "query"), "msg": "send the options as a field", "type": "type"}]
        )
    options = _options(query)
    with timed() as stages:
        data = upload_bytes(image, state.settings.max_image_bytes)
        collection = state.collection(name)
        return _search(state, name, collection, data, options.model_dump(), response, stages)


def _search(
    state: ServerState,
    name: str,
    collection: Collection,
    image: bytes | str | None,
    query: dict[str, Any],
    response: Response,
    stages: dict[str, float],
) -> dict[str, Any]:
    region, box = query.pop("region"), query.pop("box", None)
    started = time.perf_counter()
    results = collection.search(
        image=image,
        region=tuple(region) if region else None,
        box=tuple(box) if box else None,
        **query,
    )
    took = (time.perf_counter() - started) * 1000
    response.headers["Server-Timing"] = server_timing({**stages, "search": took})
    hits = [r.to_dict() for r in results]
    if collection.config.get("thumbnails"):
        base = f"{state.settings.root_path}/collections/{quote(name, safe='')}/thumbnails/"
        for hit in hits:
            hit["thumbnail_url"] = base + quote(hit["id"], safe="")
    return {"results": hits, "took_ms": round(took, 3)}


def _options(raw: str | None) -> SearchOptions:
    """The multipart form's ``query`` field, validated like the JSON route's body: a JSON
    object, as the schema says (an empty part too is refused), or no part at all."""
    if raw is None:
        return SearchOptions()
    try:
        return SearchOptions.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", "query", *e["loc"])} for e in exc.errors()]
        ) from exc
