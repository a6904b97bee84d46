"""Whole-collection clean-up: clusters of near-duplicates, the record to keep in each."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field

from lookalike.api.errors import error_responses
from lookalike.api.inputs import json_body
from lookalike.api.state import State

router = APIRouter(tags=["duplicates"])


class DuplicatesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Score from which two images are copies."
    )
    keep: str = Field(
        default="original",
        max_length=200,
        description="original, largest, least-compressed, oldest, or FIELD:min / FIELD:max.",
    )
    delete_copies: bool = Field(default=False, description="Delete every copy once grouped.")


class DuplicateMember(BaseModel):
    id: str
    source: str | None = None
    role: Literal["keep", "copy"]
    score: float
    width: int | None = None
    height: int | None = None
    byte_size: int | None = None
    linked_to: str | None = None
    inliers: int | None = None
    hash_distance: int | None = None
    region: tuple[float, float, float, float] | None = Field(
        default=None,
        description="The part of this image that matched linked_to (left, top, right, bottom "
        "as fractions); null when the hashes alone decided.",
    )


class DuplicateCluster(BaseModel):
    keep: str
    copies: list[str]
    members: list[DuplicateMember]


class DuplicatesResponse(BaseModel):
    threshold: float
    keep: str
    clusters: list[DuplicateCluster]
    deleted: int = Field(description="Copies deleted (delete_copies).")


@router.post(
    "/collections/{name}/duplicates",
    dependencies=[Depends(json_body)],
    response_model=DuplicatesResponse,
    responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503),
)
def duplicates(
    name: str, state: State, body: Annotated[DuplicatesRequest | None, Body()] = None
) -> dict[str, Any]:
    """Group the collection's near-duplicates; each cluster names the record to keep and its
    copies. Needs the duplicate signal. Runs in the request: a large collection takes minutes."""
    options = body or DuplicatesRequest()
    collection = state.collection(name)
    threshold = collection.copy_threshold if options.threshold is None else options.threshold
    clusters = collection.duplicates(threshold=threshold, keep=options.keep)
    copies = [i for c in clusters for i in c.copies]
    deleted = sum(collection.delete(copies).values()) if options.delete_copies and copies else 0
    return {
        "threshold": threshold,
        "keep": options.keep,
        "clusters": [
            {"keep": c.keep, "copies": c.copies, "members": [asdict(m) for m in c.members]}
            for c in clusters
        ],
        "deleted": deleted,
    }
