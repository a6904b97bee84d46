"""Ximilar-style image similarity routes, at the hosted service's paths, so code written for it
(its ``ximilar-client`` package included) runs against this server by changing its base URL.

The collection comes from the ``collection-id`` header; one that does not exist yet is created
by its first ``insert`` with the server's default signals. See docs/compatibility.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lookalike.api.compat import ximilar_shapes as ximilar
from lookalike.api.compat.records import add_items
from lookalike.api.inputs import (
    check_count,
    fetch_query_image,
    image_url,
    json_body,
    make_item,
    named,
    query_image,
    server_file,
)
from lookalike.api.schemas import whole_number
from lookalike.api.state import ServerState, State
from lookalike.engine import Collection
from lookalike.errors import BadInput, LookalikeError, NotFound
from lookalike.search import MAX_TOP_K
from lookalike.sources import Item, ItemError

SIMILARITY_PREFIXES = (
    "/similarity/photos/v2",
    "/similarity/products/v2",
    "/similarity/products-new/v2",
    "/similarity/custom/v2",
    "/similarity/fashion/v2",
    "/similarity/fashion-new/v2",
    "/similarity/homedecor/v2",
    "/photo/search/v2",
)
"""The hosted service's visual-similarity endpoints; here they all search the same way."""
MATCHING_PREFIX = "/image_matching/v2"
"""Image matching: finds copies, so its searches use the duplicate signal where there is one."""
SHOWN_PREFIX = SIMILARITY_PREFIXES[0]
"""The one prefix listed in /docs; the others answer the same but stay out of the schema."""
MAX_PAGE_SIZE = 10_000
_CURSORS = "compat.ximilar.cursors"


class FieldsRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    fields_to_return: list[str] | None = Field(
        default=None, description="Fields of each record to answer with; `*` for all."
    )
    filter: dict[str, Any] | None = Field(
        default=None, description="MongoDB-like filter on fields."
    )


class RecordsRequest(FieldsRequest):
    records: list[Any] = Field(
        description="Records (JSON objects): `_id`, one of `_url` / `_base64`, and free fields; "
        "an entry that is no object is skipped alone."
    )


class KnnRequest(FieldsRequest):
    query_record: dict[str, Any] | None = Field(
        default=None, description="`_id` of a record, or an image as `_url` / `_base64`."
    )
    records: list[Any] | None = Field(
        default=None,
        description="Several records by `_id`: search near all of them (one query: a record "
        "that is no object, or has no `_id`, fails the request, naming it).",
    )
    k: int = Field(default=5, ge=1, le=MAX_TOP_K)

    @field_validator("k", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        return whole_number(value)


class RandomRequest(FieldsRequest):
    count: int = Field(default=10, ge=1, le=1000)

    @field_validator("count", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        return whole_number(value)


async def collection_id(
    value: Annotated[str | None, Header(alias="collection-id")] = None,
) -> str:
    if not value:
        raise BadInput("the collection-id header is missing: it names the collection")
    return value


CollectionId = Annotated[str, Depends(collection_id)]


def _router(prefix: str, *, matching: bool, in_schema: bool) -> APIRouter:
    router = APIRouter(
        prefix=prefix,
        route_class=ximilar.XimilarRoute,
        include_in_schema=in_schema,
        tags=["compatibility: Ximilar"],
        dependencies=[Depends(json_body)],  # its bodies are JSON (ping has none)
        responses=ximilar.ERRORS,
    )

    @router.post("/insert")
    def insert(state: State, name: CollectionId, body: RecordsRequest) -> JSONResponse:
        """Add records (an existing `_id` is replaced); a collection is created on first use."""
        check_count(len(body.records), state.settings, "records")
        entries = [_entry(record, at, state) for at, record in enumerate(body.records)]
        failures = add_items(state, name, entries)
        answer, skipped = [], []
        for record, entry, error in zip(body.records, entries, failures, strict=True):
            if error is not None:
                reason = ximilar.reason(error)
                skipped.append({**ximilar.echo(record, body.fields_to_return), "_reason": reason})
                continue
            assert isinstance(entry, Item)  # an entry that is no item always fails
            fields = ximilar.record_fields(record)
            answer.append(ximilar.shown(entry.id, entry.source, fields, body.fields_to_return))
        if skipped and not answer:  # nothing went in: the answer's status says why
            first = next(e for e in failures if e is not None)
            return ximilar.error_response(
                first.status, first.code, first.message, records=[], skipped_records=skipped
            )
        return JSONResponse(ximilar.ok(records=answer, skipped_records=skipped))

    async def knn(
        state: ServerState,
        name: str,
        body: KnnRequest,
        signal: str | None,
        threshold: float | None = None,
    ) -> dict[str, Any]:
        """The answer of a kNN search; a query image's URL is fetched off the request threads
        (:func:`fetch_query_image`), the search runs on them."""
        url = _query_url(body)
        fetched = await fetch_query_image(url, state) if url is not None else None
        return await run_in_threadpool(_knn, state, name, body, signal, threshold, fetched)

    @router.post("/visualKNN")
    async def visual_knn(state: State, name: CollectionId, body: KnnRequest) -> dict[str, Any]:
        """The `k` records most like the query; `answer_distances` are 1 - score."""
        collection = await run_in_threadpool(state.collection, name)
        signal = _duplicate_signal(collection) if matching else None
        return await knn(state, name, body, signal)

    @router.post("/visualTagsKNN")
    async def visual_tags_knn(state: State, name: CollectionId, body: KnnRequest) -> dict[str, Any]:
        """As visualKNN: tags do not change the ranking here (filter on them instead)."""
        return await visual_knn(state, name, body)

    @router.post("/nearDuplicates")
    async def near_duplicates(state: State, name: CollectionId, body: KnnRequest) -> dict[str, Any]:
        """Copies of the query (crops, edits, recompressions), verified by local features."""
        collection = await run_in_threadpool(state.collection, name)
        # a clear error when the collection has no such signal
        await run_in_threadpool(collection.signal, "duplicate")
        return await knn(state, name, body, "duplicate", collection.copy_threshold)

    @router.post("/get")
    def get(state: State, name: CollectionId, body: RecordsRequest) -> dict[str, Any]:
        """Records by `_id`; unknown ones are listed in `skipped_records`."""
        check_count(len(body.records), state.settings, "records")
        collection = state.collection(name)
        found, skipped = [], []
        for record in body.records:
            try:
                stored = collection.get(_record_id(record))
            except LookalikeError as exc:
                skipped.append({**ximilar.echo(record, ["_id"]), "_reason": ximilar.reason(exc)})
                continue
            found.append(_shown(stored, body.fields_to_return))
        return ximilar.ok(answer_records=found, answer_count=len(found), skipped_records=skipped)

    @router.post("/update")
    def update(state: State, name: CollectionId, body: RecordsRequest) -> dict[str, Any]:
        """Merge each record's fields into the stored one; the image is not indexed again."""
        check_count(len(body.records), state.settings, "records")
        collection = state.collection(name)
        updated, skipped = [], []
        for record in body.records:
            try:
                fields = ximilar.record_fields(ximilar.as_record(record))
                stored = collection.update(_record_id(record), metadata=fields, merge=True)
            except LookalikeError as exc:
                skipped.append({**ximilar.echo(record, ["_id"]), "_reason": ximilar.reason(exc)})
                continue
            updated.append(_shown(stored, body.fields_to_return or ["*"]))
        return ximilar.ok(records=updated, skipped_records=skipped)

    @router.post("/delete")
    def delete(state: State, name: CollectionId, body: RecordsRequest) -> dict[str, Any]:
        """Delete records by `_id`; unknown ones are listed in `skipped_records`."""
        check_count(len(body.records), state.settings, "records")
        collection = state.collection(name)
        ids, skipped = [], []
        for record in body.records:
            try:
                ids.append(_record_id(record))
            except LookalikeError as exc:
                skipped.append({**ximilar.echo(record, ["_id"]), "_reason": ximilar.reason(exc)})
        existed = collection.delete(ids) if ids else {}
        for rid, was in existed.items():
            if not was:
                missing = NotFound(f"no record {rid!r} in collection {name!r}")
                skipped.append({"_id": rid, "_reason": ximilar.reason(missing)})
        deleted = [{"_id": rid} for rid, was in existed.items() if was]
        return ximilar.ok(records=deleted, skipped_records=skipped)

    @router.post("/allRecords")
    def all_records(
        state: State,
        name: CollectionId,
        size: Annotated[int | None, Query(ge=0, le=MAX_PAGE_SIZE)] = None,
        page: Annotated[int, Query(ge=1)] = 1,
        body: Annotated[FieldsRequest | None, Body()] = None,
    ) -> dict[str, Any]:
        """Records a page at a time (`size`, `page` from 1; `next` while more follow), or all
        of them without `size`."""
        collection = state.collection(name)
        options = body or FieldsRequest()
        filter = ximilar.translate_filter(options.filter)
        answer: dict[str, Any] = {}
        if not size:
            records = ximilar.all_records(collection, filter)
        else:
            cursors = state.extras.setdefault(_CURSORS, ximilar.PageCursors())
            records, more = ximilar.page_of(
                collection, filter=filter, size=size, page=page, cursors=cursors
            )
            if more:
                answer["next"] = f"allRecords?size={size}&page={page + 1}"
        shown = [_shown(r, options.fields_to_return) for r in records]
        return ximilar.ok(answer_records=shown, answer_count=len(shown), **answer)

    @router.post("/random")
    def random_records(
        state: State, name: CollectionId, body: Annotated[RandomRequest | None, Body()] = None
    ) -> dict[str, Any]:
        """`count` records drawn at random (among those matching `filter`)."""
        options = body or RandomRequest()
        collection = state.collection(name)
        filter = ximilar.translate_filter(options.filter)
        records = ximilar.random_records(collection, options.count, filter)
        shown = [_shown(r, options.fields_to_return) for r in records]
        return ximilar.ok(answer_records=shown, answer_count=len(shown))

    def ping() -> dict[str, Any]:
        """Is the service up (and, with keys configured, is the token accepted)."""
        return ximilar.ok()

    router.add_api_route("/ping", ping, methods=["POST"], name="ping")
    router.add_api_route("/ping", ping, methods=["GET"], name="ping_get")

    return router


def _entry(record: Any, at: int, state: ServerState) -> Item | ItemError:
    """One incoming record as an item: its image from `_base64`, else `_url`, else `_file` (a
    path on the server, under `allowed_roots`); what is wrong with it fails it alone."""
    try:
        return _item(record, state)
    except LookalikeError as exc:
        rid = record.get("_id") if isinstance(record, dict) else None
        return ItemError(f"records[{at}]", exc, id=None if rid is None else str(rid))


def _item(given: Any, state: ServerState) -> Item:
    record = ximilar.as_record(given)
    image = record.get("_base64")
    url = record.get("_url") if image is None else None
    path = record.get("_file") if image is None and url is None else None
    if image is None and url is None and path is None:
        raise BadInput("record has no image: give _url, _base64 or _file")
    metadata = ximilar.record_fields(record)
    if url is not None:
        metadata.pop("_url")  # the image's source says it
    return make_item(
        id=record.get("_id"),
        url=url,
        base64=image,
        path=path,
        metadata=metadata,
        settings=state.settings,
        names=("_url", "_base64", "_file"),
    )


def _knn(
    state: ServerState,
    name: str,
    body: KnnRequest,
    signal: str | None,
    threshold: float | None,
    fetched: bytes | None,
) -> dict[str, Any]:
    collection = state.collection(name)
    results = collection.search(
        **_query(body, collection, fetched),
        filter=ximilar.translate_filter(body.filter),
        top_k=body.k,
        signal=signal,
        threshold=threshold,
    )
    answer = {
        "answer_records": [
            ximilar.shown(r.id, r.source, r.metadata, body.fields_to_return) for r in results
        ],
        "answer_distances": [round(1.0 - r.score, 6) for r in results],
        "answer_count": len(results),
    }
    if body.query_record is not None:
        answer["query_record"] = ximilar.echo(body.query_record, body.fields_to_return)
    return ximilar.ok(**answer)


def _query_url(body: KnnRequest) -> str | None:
    """The URL of the query image, when the query is one: checked here, fetched ahead."""
    record = body.query_record
    if record is None or body.records or record.get("_base64") is not None:
        return None
    url = record.get("_url")
    return None if url is None else image_url(url, "_url")


def _query(body: KnnRequest, collection: Collection, fetched: bytes | None) -> dict[str, Any]:
    """The engine's query for a kNN request: an image, a record id, or several record ids
    (``fetched``: the query image's bytes, fetched from its URL ahead)."""
    if body.query_record is not None and body.records:
        raise BadInput("give query_record or records, not both")
    if body.records:
        return {"positive": [_query_record_id(r, at) for at, r in enumerate(body.records)]}
    record = body.query_record
    if record is None:
        raise BadInput("give query_record: an _id, or an image as _url, _base64 or _file")
    if fetched is not None:
        return {"image": fetched}
    if record.get("_base64") is not None or record.get("_url") is not None:
        image = query_image(
            url=record.get("_url") if record.get("_base64") is None else None,
            base64=record.get("_base64"),
            max_bytes=collection.settings.max_image_bytes,
            names=("_url", "_base64"),
        )
        return {"image": image}
    if record.get("_file") is not None:
        return {"image": server_file(record["_file"], "_file", collection.settings)}
    return {"id": _record_id(record)}


def _record_id(record: Any) -> str:
    rid = ximilar.as_record(record).get("_id")
    if rid is None or isinstance(rid, bool) or not isinstance(rid, str | int) or rid == "":
        raise BadInput("record has no _id (a string)")
    return str(rid)


def _query_record_id(record: Any, at: int) -> str:
    """The `_id` of ``records[at]`` of a kNN request. Its records make one query, so one that
    is no object or has no `_id` fails the request, named (skipping it, as a batch does,
    would answer another query than the one asked)."""
    try:
        return _record_id(record)
    except LookalikeError as exc:
        raise named(exc, f"records[{at}]") from None


def _shown(record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    return ximilar.shown(record["id"], record["source"], record["metadata"], fields)


def _duplicate_signal(collection: Collection) -> str | None:
    return "duplicate" if "duplicate" in collection.config["signals"] else None


router = APIRouter()
for _prefix in (*SIMILARITY_PREFIXES, MATCHING_PREFIX):
    router.include_router(
        _router(_prefix, matching=_prefix == MATCHING_PREFIX, in_schema=_prefix == SHOWN_PREFIX)
    )
