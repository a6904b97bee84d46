"""Liveness and readiness: is the store open, are the models of each collection loadable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lookalike import __version__
from lookalike.api.state import State

router = APIRouter(tags=["health"])


@router.get("/health")
def health(state: State) -> dict[str, Any]:
    try:
        names = state.engine.list_collections()
        store = {"status": "ok", "collections": len(names)}
    except Exception as exc:  # the probe reports, never fails
        return {"status": "unavailable", "version": __version__, "store": {"error": str(exc)}}
    return {"status": "ok", "version": __version__, "store": store}
