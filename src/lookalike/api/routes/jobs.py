"""Background ingest jobs: progress, final report, cancellation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lookalike.api.jobs import job_registry
from lookalike.api.state import State

router = APIRouter(tags=["jobs"])


@router.get("/jobs")
def list_jobs(state: State) -> dict[str, Any]:
    """Jobs of this server process, newest first, without their reports."""
    return {"jobs": [j.to_dict(report=False) for j in job_registry(state).jobs()]}


@router.get("/jobs/{job_id}")
def get_job(job_id: str, state: State) -> dict[str, Any]:
    return job_registry(state).get(job_id).to_dict()


@router.delete("/jobs/{job_id}", status_code=202)
def cancel_job(job_id: str, state: State) -> dict[str, Any]:
    """Stop a job after the item in hand; records it indexed stay."""
    return job_registry(state).cancel(job_id).to_dict()
