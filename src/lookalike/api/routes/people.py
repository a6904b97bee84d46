"""People: the faces of a collection grouped into persons, named, merged and split, through
:class:`~lookalike.engine.Collection`'s people methods. A person in a path or body is its id or
its current name; an unknown one is a 404, a name another person has a 409."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lookalike.api.errors import error_responses
from lookalike.api.inputs import json_body
from lookalike.api.schemas import PersonName, whole_number
from lookalike.api.state import State
from lookalike.engine import Collection
from lookalike.errors import NotFound
from lookalike.signals.faces.people import face_ref

router = APIRouter(tags=["people"])

ERRORS = error_responses(400, 401, 403, 404, 409, 422, 503)
_PEOPLE = "/collections/{name}/people"

PersonKey = int | PersonName
"""A person: its id, or its current name."""


class PersonOut(BaseModel):
    id: int
    name: str | None
    faces: int = Field(description="Faces of this person across the collection.")
    records: int = Field(description="Records showing the person.")
    sample: list[str] = Field(description="A few ids of records showing the person.")


class ClusterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    full: bool = Field(default=False, description="Regroup every face, not only the new ones.")


class ClusterOut(BaseModel):
    faces: int = Field(description="Faces looked at (the new ones, or all with full).")
    joined: int = Field(description="Faces that joined a person who existed before.")
    new_people: int
    people: int = Field(description="People in the collection after the run.")
    seconds: float


class NameRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(max_length=200, description="The new name; null or '' removes it.")


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    people: list[PersonKey] = Field(min_length=1, max_length=1000)
    into: PersonKey | None = Field(
        default=None, description="The person they become (default: the first given)."
    )

    @field_validator("people", "into", mode="before")
    @classmethod
    def _whole_numbers(cls, value: Any) -> Any:
        return [whole_number(v) for v in value] if isinstance(value, list) else whole_number(value)


class FaceRef(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(min_length=1, description="A record id.")
    face: int | None = Field(default=None, ge=0, description="Only this face of the record.")

    @field_validator("face", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        return whole_number(value)


class SplitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    faces: list[str | FaceRef] = Field(
        min_length=1,
        max_length=10000,
        description='Record ids ("rec", or "rec#N" for face N only), or {"id", "face"?} objects.',
    )


def _person(collection: Collection, pid: int) -> dict[str, Any]:
    for p in collection.people():
        if p.id == pid:
            return p.to_dict()
    raise NotFound(f"no person {pid} in collection {collection.name!r}")


@router.get(_PEOPLE, response_model=list[PersonOut], responses=ERRORS)
def list_people(name: str, state: State) -> list[dict[str, Any]]:
    """The people grouped so far, most faces first (empty until faces are grouped)."""
    return [p.to_dict() for p in state.collection(name).people()]


@router.post(
    f"{_PEOPLE}/cluster",
    dependencies=[Depends(json_body)],
    response_model=ClusterOut,
    responses=ERRORS,
)
def cluster_people(
    name: str, state: State, body: Annotated[ClusterRequest | None, Body()] = None
) -> dict[str, Any]:
    """Group faces into people: new faces join the people found before, or start new ones.
    Runs in the request; once run, indexing new images groups their faces too."""
    report = state.collection(name).cluster_people(full=(body or ClusterRequest()).full)
    return report.to_dict()


@router.post(
    f"{_PEOPLE}/merge",
    dependencies=[Depends(json_body)],
    response_model=PersonOut,
    responses=ERRORS,
)
def merge_people(name: str, body: MergeRequest, state: State) -> dict[str, Any]:
    """Make several people one person: ``into``, else the first given."""
    collection = state.collection(name)
    return _person(collection, collection.merge_people(body.people, into=body.into))


@router.patch(
    f"{_PEOPLE}/{{person:path}}",
    dependencies=[Depends(json_body)],
    response_model=PersonOut,
    responses=ERRORS,
)
def name_person(name: str, person: str, body: NameRequest, state: State) -> dict[str, Any]:
    """Name a person, or remove the name (``null`` or ``""``)."""
    collection = state.collection(name)
    return _person(collection, collection.name_person(person, body.name))


@router.post(
    f"{_PEOPLE}/{{person:path}}/split",
    dependencies=[Depends(json_body)],
    response_model=PersonOut,
    responses=ERRORS,
)
def split_person(name: str, person: str, body: SplitRequest, state: State) -> dict[str, Any]:
    """Move the person's faces in these records (or single faces) to a new person."""
    faces: list[str | tuple[str, int]] = []
    for ref in body.faces:
        if isinstance(ref, FaceRef):
            faces.append(ref.id if ref.face is None else (ref.id, ref.face))
        else:
            faces.append(face_ref(ref))
    collection = state.collection(name)
    return _person(collection, collection.split_person(person, faces))
