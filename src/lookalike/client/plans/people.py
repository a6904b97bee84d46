"""People: the faces of a collection grouped, named, merged and split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lookalike.client.plans.common import body_of, coll, q
from lookalike.client.shapes import from_dict
from lookalike.client.wire import Call, Plan
from lookalike.types import ClusterReport, Person


def people(name: str) -> Plan[list[Person]]:
    body = body_of((yield Call("GET", f"{coll(name)}/people")))
    return [from_dict(Person, p) for p in body]


def cluster_people(name: str, *, full: bool) -> Plan[ClusterReport]:
    call = Call("POST", f"{coll(name)}/people/cluster", json={"full": full}, timeout=3600.0)
    return from_dict(ClusterReport, body_of((yield call)))


def name_person(name: str, person: int | str, new_name: str | None) -> Plan[int]:
    call = Call("PATCH", _person(name, person), json={"name": new_name}, idempotent=True)
    return int(body_of((yield call))["id"])


def merge_people(name: str, persons: Sequence[int | str], into: int | str | None) -> Plan[int]:
    body: dict[str, Any] = {"people": list(persons)}
    if into is not None:
        body["into"] = into
    call = Call("POST", f"{coll(name)}/people/merge", json=body)
    return int(body_of((yield call))["id"])


def split_person(name: str, person: int | str, faces: Sequence[str | tuple[str, int]]) -> Plan[int]:
    """Faces go as objects, so a record id holding ``#`` is never read as ``id#face``."""
    refs = [{"id": f[0], "face": int(f[1])} if isinstance(f, tuple) else {"id": f} for f in faces]
    call = Call("POST", f"{_person(name, person)}/split", json={"faces": refs})
    return int(body_of((yield call))["id"])


def _person(name: str, person: int | str) -> str:
    return f"{coll(name)}/people/{q(str(person))}"
