"""Liveness and readiness: is the store open, are the models of each collection loadable.

A probe never loads a model: a model is ``loaded`` once a search or an insert has used it, else
its files are looked for on disk (cheap, cached for a few seconds)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from lookalike.api.errors import error_body
from lookalike.api.state import ServerState, State
from lookalike.errors import LookalikeError, ModelUnavailable
from lookalike.models.files import locate
from lookalike.version import __version__

router = APIRouter(tags=["health"])

FILE_CHECK_SECONDS = 10.0
"""How long a look for a model's files on disk is reused by later probes."""


@router.get("/health")
def health(state: State) -> JSONResponse:
    """``ok``; ``degraded`` when a collection's model files are missing (its searches and
    inserts answer 503); ``unavailable`` with status 503 when the store cannot be read."""
    try:
        names = state.engine.list_collections()
    except Exception as exc:  # the probe reports, never fails
        body = {"status": "unavailable", "version": __version__, "store": {"status": "error"}}
        return JSONResponse({**body, **error_body("store_unavailable", str(exc))}, 503)
    collections = {name: _collection_status(state, name) for name in names}
    degraded = any(c["model_status"] == "missing" for c in collections.values())
    return JSONResponse(
        {
            "status": "degraded" if degraded else "ok",
            "version": __version__,
            "store": {"status": "ok", "collections": len(names)},
            "collections": collections,
        }
    )


def _collection_status(state: ServerState, name: str) -> dict[str, Any]:
    try:
        collection = state.collection(name)
    except LookalikeError as exc:
        return {"signals": [], "model": None, "model_status": "missing", "error": exc.message}
    model = collection.config.get("model")
    out: dict[str, Any] = {"signals": list(collection.config["signals"]), "model": model}
    if not model:
        out["model_status"] = "none"
    elif collection.model_loaded():
        out["model_status"] = "loaded"
    else:
        error = _model_files(state, model)
        out["model_status"] = "available" if error is None else "missing"
        if error is not None:
            out["error"] = error
    return out


def _model_files(state: ServerState, model: str) -> str | None:
    """None when the model's image tower is on disk (or may be downloaded), else why not."""
    cache: dict[str, tuple[float, str | None]] = state.extras.setdefault("model_files", {})
    now = time.monotonic()
    if model in cache and now - cache[model][0] < FILE_CHECK_SECONDS:
        return cache[model][1]
    error: str | None = None
    try:
        locate(model, state.settings.replace(offline=True), "vision")
    except ModelUnavailable as exc:
        if state.settings.offline:
            error = exc.message
        # else: not on disk, fetched on first use; that fetch's failure is the request's 503
    cache[model] = (now, error)
    return error
