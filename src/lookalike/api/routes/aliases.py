"""Aliases: a second name for a collection (list, set or switch, remove), and reindexing a
collection into a new version behind its name, as a background job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from lookalike.api.errors import error_responses
from lookalike.api.inputs import json_body
from lookalike.api.jobs import job_registry
from lookalike.api.schemas import AliasSet, ReindexRequest
from lookalike.api.state import State
from lookalike.errors import BadInput
from lookalike.models.specs import find_spec
from lookalike.reindex import new_version_options

router = APIRouter(tags=["collections"])


@router.get("/aliases", responses=error_responses(401, 403))
def list_aliases(state: State) -> dict[str, Any]:
    """Every alias and the collection it names."""
    return {"aliases": state.engine.aliases()}


@router.put(
    "/aliases/{alias}",
    dependencies=[Depends(json_body)],
    responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
def set_alias(alias: str, body: AliasSet, state: State) -> dict[str, Any]:
    """Create the alias, or switch it to another collection in one atomic step: every request
    after it uses the new collection. Refused: an alias named like a collection (409
    ``name_taken``), a collection that does not exist (404), another alias (400)."""
    with state.lock:
        state.engine.set_alias(alias, body.collection)
    return {"alias": alias, "collection": body.collection}


@router.delete("/aliases/{alias}", responses=error_responses(400, 401, 403, 404, 422))
def remove_alias(alias: str, state: State) -> dict[str, Any]:
    """Remove the alias; the collection it named stays."""
    with state.lock:
        state.engine.set_alias(alias, None)
    return {"deleted": alias}


@router.post(
    "/collections/{name}/reindex",
    status_code=202,
    dependencies=[Depends(json_body)],
    responses=error_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
def reindex(name: str, body: ReindexRequest, state: State) -> JSONResponse:
    """Build the collection again with another model or signals from its records' sources, in
    the background, while searches keep using it; then switch its name to the new version
    (``GET /jobs/{id}``: progress, then ``result``)."""
    model = body.model
    if model is not None and model != state.settings.default_model and find_spec(model) is None:
        # A model folder is a path on the server's disk: only its operator names one.
        raise BadInput(
            f"unknown model {model!r}: give a known model name (lookalike models list), or "
            "leave it out to keep the collection's model"
        )
    collection = state.collection(name)  # NotFound before a job is made
    # a bad signal or precision is refused now, as creating a collection refuses it, not by
    # the job later
    new_version_options(
        collection.config, model=model, signals=body.signals, precision=body.precision
    )
    job = job_registry(state).submit_reindex(
        state.engine,
        name,
        model=model,
        signals=body.signals,
        precision=body.precision,
        drop_previous=body.drop_previous,
    )
    return JSONResponse(job.to_dict(), status_code=202, headers={"Location": f"/jobs/{job.id}"})
