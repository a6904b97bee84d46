"""Pairs marked as not duplicates: remembered by the collection, left out of later groupings
(POST /collections/{name}/duplicates)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from lookalike.api.errors import error_responses
from lookalike.api.inputs import json_body
from lookalike.api.state import State

router = APIRouter(tags=["duplicates"])
_PATH = "/collections/{name}/duplicates/dismissed"


class DismissRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    ids: list[str] = Field(min_length=2, max_length=2, description="Two record ids.")


@router.get(_PATH, responses=error_responses(401, 403, 404, 422))
def list_dismissed(name: str, state: State) -> dict[str, Any]:
    """The pairs marked as not duplicates."""
    return {"pairs": sorted(list(p) for p in state.collection(name).not_duplicates())}


@router.post(
    _PATH,
    dependencies=[Depends(json_body)],
    responses=error_responses(400, 401, 403, 404, 413, 415, 422),
)
def dismiss(name: str, body: DismissRequest, state: State) -> dict[str, Any]:
    """Mark two records as not duplicates; answers every pair marked so far."""
    with state.lock:
        pairs = state.collection(name).mark_not_duplicates(body.ids[0], body.ids[1])
    return {"pairs": sorted(list(p) for p in pairs)}
