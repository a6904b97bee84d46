"""``GET /metrics``: Prometheus text from the app's own registry."""

from __future__ import annotations

import logging
from collections import Counter

from fastapi import APIRouter
from fastapi.responses import Response

from lookalike.api.metrics import CONTENT_TYPE, CollectionSize, Metrics
from lookalike.api.state import ServerState, State
from lookalike.errors import LookalikeError

log = logging.getLogger("lookalike.api")
router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
def metrics(state: State) -> Response:
    """Requests, latencies, process figures, index sizes, ingest and jobs, for a scrape."""
    registry: Metrics = state.extras["metrics"]
    return Response(registry.render(), media_type=CONTENT_TYPE)


def watch(metrics: Metrics, state: ServerState) -> None:
    """Point the scrape-time gauges at this server's collections and jobs."""
    metrics.watch(
        collections=state.engine.list_collections,
        size=lambda name: collection_size(state, name),
        jobs=lambda: job_counts(state),
    )


def collection_size(state: ServerState, name: str) -> CollectionSize | None:
    """A collection's size; one that cannot be read now (locked by another process) is left
    out rather than failing the scrape."""
    try:
        info = state.collection(name).info()
    except LookalikeError as exc:
        log.warning("metrics: cannot read collection %s: %s", name, exc.message)
        return None
    return CollectionSize(int(info["count"]), int(info["hnsw_indexed"]))


def job_counts(state: ServerState) -> dict[str, int]:
    from lookalike.api.jobs import JobRegistry

    registry = state.extras.get("jobs")
    if not isinstance(registry, JobRegistry):
        return {}
    counts = Counter(job.status for job in registry.own_jobs())  # per process
    return {
        status: counts.get(status, 0)
        for status in ("queued", "running", "done", "failed", "cancelled")
    }
