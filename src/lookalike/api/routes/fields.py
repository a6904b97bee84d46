"""The fields a collection's records hold and their values: what the page's filter controls
offer (metadata values, capture dates, cameras, places, moderation verdicts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lookalike.api.errors import error_responses
from lookalike.api.state import State

router = APIRouter(tags=["records"])


@router.get("/collections/{name}/fields", responses=error_responses(401, 403, 404, 422))
def field_summary(name: str, state: State) -> dict[str, Any]:
    """Metadata keys with their most common values (numbers: their range), EXIF capture
    dates, cameras and located records, and moderation verdicts, over every record."""
    return state.collection(name).field_summary()
