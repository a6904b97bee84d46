"""Background ingest jobs: progress, final report, cancellation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from lookalike.api.errors import error_responses
from lookalike.api.jobs import job_registry
from lookalike.api.state import State

router = APIRouter(tags=["jobs"])


@router.get("/jobs")
def list_jobs(state: State) -> dict[str, Any]:
    """Jobs of this server process, newest first, without their reports."""
    return {"jobs": [j.to_dict(report=False) for j in job_registry(state).jobs()]}


@router.get("/jobs/{job_id}", responses=error_responses(401, 403, 404, 422))
def get_job(
    job_id: str,
    state: State,
    offset: Annotated[int, Query(ge=0, description="first per-item outcome of the report")] = 0,
    limit: Annotated[
        int | None, Query(ge=1, description="outcomes in the page (default: all)")
    ] = None,
) -> dict[str, Any]:
    """A job's progress, and once it ended its report; ``offset``/``limit`` page the report's
    per-item outcomes (``next_offset`` says where the next page starts)."""
    return job_registry(state).get(job_id).to_dict(offset=offset, limit=limit)


@router.delete("/jobs/{job_id}", status_code=202, responses=error_responses(401, 403, 404, 422))
def cancel_job(job_id: str, state: State) -> dict[str, Any]:
    """Stop a job after the item in hand; records it indexed stay."""
    return job_registry(state).cancel(job_id).to_dict()
