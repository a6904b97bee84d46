"""Collections: create, list, show, drop; turn thumbnails on (a job making the missing ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from lookalike.api.errors import error_responses
from lookalike.api.inputs import allowed_path, json_body
from lookalike.api.jobs import job_registry
from lookalike.api.schemas import CollectionCreate
from lookalike.api.state import State
from lookalike.errors import BadInput, Conflict
from lookalike.models.specs import find_spec

router = APIRouter(tags=["collections"])


@router.get("/collections")
def list_collections(state: State) -> dict[str, Any]:
    names = state.engine.list_collections()
    return {
        "collections": [state.collection(name).info() for name in names],
        "aliases": state.engine.aliases(),
    }


@router.post(
    "/collections",
    status_code=201,
    dependencies=[Depends(json_body)],
    responses=error_responses(400, 401, 403, 409, 413, 415, 422),
)
def create_collection(body: CollectionCreate, state: State) -> dict[str, Any]:
    model = body.model
    if model is not None and model != state.settings.default_model and find_spec(model) is None:
        # A model folder is a path on the server's disk: only its operator names one.
        raise BadInput(
            f"unknown model {model!r}: give a known model name (lookalike models list), or "
            "leave it out for the server's default model"
        )
    with state.lock:
        collection = state.engine.create_collection(
            body.name,
            signals=body.signals,
            model=model,
            thumbnails=body.thumbnails,
            on_unsafe=body.on_unsafe,
            precision=body.precision,
        )
        return collection.info()


@router.get("/collections/{name}", responses=error_responses(401, 403, 404, 422))
def get_collection(name: str, state: State) -> dict[str, Any]:
    return state.collection(name).info()


@router.delete("/collections/{name}", responses=error_responses(401, 403, 404, 409, 422))
def drop_collection(name: str, state: State) -> dict[str, Any]:
    with state.lock:
        state.collection(name)  # NotFound first
        busy = job_registry(state).active(name)
        if busy:
            raise Conflict(
                f"collection {name!r} is being indexed by job {busy[0].id}; wait for it or "
                f"cancel it (DELETE /jobs/{busy[0].id})",
                detail={"jobs": [j.id for j in busy]},
            )
        state.engine.drop_collection(name)
    return {"deleted": name}


@router.post(
    "/collections/{name}/thumbnails",
    status_code=202,
    response_model=None,
    responses=error_responses(401, 403, 404, 409, 422),
)
def make_thumbnails(name: str, state: State) -> JSONResponse:
    """Turn thumbnails on for the collection and make the missing ones, as a job (``202``,
    then ``GET /jobs/{id}``: progress, and a result with each record's outcome: ``made``,
    ``source_missing``, ``failed``). Files are read only under ``allowed_roots``, URLs
    fetched with the server's address checks. Records that have one are left alone, so
    running it again finishes what a run could not."""
    collection = state.collection(name)
    roots = state.settings.allowed_roots

    def open_file(path: Path) -> Path:
        return allowed_path(path, roots)

    job = job_registry(state).submit_thumbnails(collection, open_file)
    return JSONResponse(job.to_dict(), status_code=202, headers={"Location": f"/jobs/{job.id}"})
