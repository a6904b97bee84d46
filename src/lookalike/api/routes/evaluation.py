"""Measuring a collection's search quality (``lookalike eval`` on a collection): by a protocol
over the groups its records carry, or by queries naming records and their right answers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from lookalike.api.errors import error_responses
from lookalike.api.inputs import json_body
from lookalike.api.state import State
from lookalike.errors import LookalikeError
from lookalike.evaluation import QuerySpec
from lookalike.search import MAX_TOP_K

router = APIRouter(tags=["evaluation"])

MAX_QUERIES = 10_000


class EvalQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(max_length=1000, description="A record of the collection, the query.")
    expected: list[str] = Field(
        default=[], max_length=10_000, description="Ids of the right answers."
    )
    group: str | None = Field(
        default=None, max_length=1000, description="Records of this group are right answers."
    )


class EvalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    protocol: Literal["first", "leave-one-out", "split"] = Field(
        default="leave-one-out",
        description="Without queries: which records are queries (by the groups they carry).",
    )
    queries: list[EvalQuery] | None = Field(
        default=None, max_length=MAX_QUERIES, description="Queries with their right answers."
    )
    top_k: int = Field(default=10, ge=1, le=MAX_TOP_K)
    rank_by: Literal["group", "record"] | None = Field(
        default=None,
        description="group: one hit per group; record: every record (default: group, or "
        "record when queries give expected ids).",
    )
    seed: int | None = Field(default=None, description="Seed of the split protocol.")
    query_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    signal: str | None = Field(default=None, description="Signal to rank by.")
    threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Score to report precision and recall at."
    )
    target_precision: float = Field(
        default=0.99, gt=0.0, le=1.0, description="Precision the suggested threshold reaches."
    )
    include_queries: bool = Field(default=False, description="Each query's hits in the answer.")
    format: Literal["json", "html"] = Field(
        default="json", description="html: the self-contained report page (needs lookalike[eval])."
    )


@router.post(
    "/collections/{name}/eval",
    dependencies=[Depends(json_body)],
    responses={
        **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
        200: {"content": {"application/json": {}, "text/html": {}}},
    },
)
def evaluate(
    name: str, state: State, body: Annotated[EvalRequest | None, Body()] = None
) -> Response:
    """Top-1/top-3/top-k accuracy, recall@k, mAP, MRR, precision and recall at the signal's
    threshold, the threshold reaching a chosen precision, and the failing queries by group.
    Runs in the request: a large collection takes minutes."""
    options = body or EvalRequest()
    collection = state.collection(name)
    queries = None
    if options.queries is not None:
        queries = [
            QuerySpec(label=q.id, id=q.id, group=q.group, expected=tuple(q.expected))
            for q in options.queries
        ]
    report = collection.evaluate(
        queries,
        protocol=options.protocol,
        top_k=options.top_k,
        rank_by=options.rank_by,
        seed=options.seed,
        query_fraction=options.query_fraction,
        search={} if options.signal is None else {"signal": options.signal},
        threshold=options.threshold,
        target_precision=options.target_precision,
    )
    report.command = (
        f"POST /collections/{name}/eval {options.model_dump_json(exclude_defaults=True)}"
    )
    if options.format == "html":
        from lookalike.evaluation.report import render_html

        def image_for(record_id: str, _source: str | None) -> bytes | None:
            try:
                return collection.thumbnail(record_id)
            except LookalikeError:  # no thumbnails kept, or the record is gone: a placeholder
                return None

        return HTMLResponse(render_html(report, image_for=image_for))
    out: dict[str, Any] = report.to_dict(with_queries=options.include_queries)
    return JSONResponse(out)
