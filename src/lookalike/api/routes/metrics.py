"""``GET /metrics``: Prometheus text; index sizes are read from the store at scrape time."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from lookalike.api.metrics import CONTENT_TYPE, CollectionSize, Metrics
from lookalike.api.state import ServerState, State
from lookalike.errors import LookalikeError

log = logging.getLogger("lookalike.api")
router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
def metrics(state: State) -> PlainTextResponse:
    """Requests, latencies, index sizes and ingest counters, for a Prometheus scrape."""
    registry: Metrics = state.extras["metrics"]
    text = registry.render(collection_sizes(state))
    return PlainTextResponse(text, media_type=CONTENT_TYPE)


def collection_sizes(state: ServerState) -> dict[str, CollectionSize]:
    """Each collection's size; one that cannot be read now (locked by another process) is left
    out rather than failing the scrape."""
    sizes = {}
    for name in state.engine.list_collections():
        try:
            info = state.collection(name).info()
        except LookalikeError as exc:
            log.warning("metrics: cannot read collection %s: %s", name, exc.message)
            continue
        sizes[name] = CollectionSize(int(info["count"]), int(info["hnsw_indexed"]))
    return sizes
