"""Two API processes on one server store, played by two engines whose stores share one
local-mode client: the people table stays one table (no lost edit, no person id handed out
twice), and face and person search work on the server backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike import Engine, Settings
from lookalike.errors import ConfigChanged
from lookalike.store.server import ServerStore
from tests.support.faces import face_folder

INDEXED = ("person_a_1", "person_a_2", "person_b_1", "astronaut", "group", "chelsea")


def test_two_engines_share_one_people_table(tmp_path: Path) -> None:
    folder = face_folder(tmp_path / "faces", (*INDEXED, "person_a_3"))
    first = ServerStore.connect("qdrant-local::memory:")
    second = ServerStore(first.client, url=first.url)
    a = Engine(Settings(data_dir=tmp_path / "a", offline=True), store=first)
    b = Engine(Settings(data_dir=tmp_path / "b", offline=True), store=second)
    try:
        ca = a.create_collection("people", signals="faces")
        ca.index([folder / f"{n}.jpg" for n in INDEXED])
        cb = b.collection("people")  # opened before any person exists
        assert ca.cluster_people().new_people == 3
        ids = {frozenset(p.sample): p.id for p in cb.people()}  # b sees a's grouping
        pa = ids[frozenset({"person_a_1.jpg", "person_a_2.jpg"})]
        pb = ids[frozenset({"person_b_1.jpg", "group.jpg"})]
        pc = ids[frozenset({"astronaut.jpg", "group.jpg"})]

        # each engine names a person on the table it read before the other's edit
        cb.name_person(pa, "Ada")
        ca.name_person(pb, "Bo")
        assert {p.id: p.name for p in ca.people()} == {pa: "Ada", pb: "Bo", pc: None}
        assert {p.id: p.name for p in cb.people()} == {pa: "Ada", pb: "Bo", pc: None}

        # person and face search answer through either engine
        by_name = ca.search(person="ada")
        assert {r.id for r in by_name} == {"person_a_1.jpg", "person_a_2.jpg"}
        assert all(r.match and r.match["name"] == "Ada" for r in by_name)
        faces = cb.search(image=folder / "person_a_3.jpg", signal="faces", top_k=2)
        assert {r.id for r in faces} == {"person_a_1.jpg", "person_a_2.jpg"}

        # each engine splits off a new person: two different new ids
        new_a = ca.split_person(pb, ["group.jpg"])
        new_b = cb.split_person(pc, ["astronaut.jpg"])
        assert len({new_a, new_b, pa, pb, pc}) == 5
        assert cb.get("group.jpg")["faces"]  # b reads a's face writes
        people = {p.id: p.faces for p in ca.people()}
        assert people[new_a] == 1 and people[new_b] == 1

        # an edit prepared on a table another engine changed meanwhile is refused whole
        stale = ca._people()
        cb.name_person(pc, "Cy")
        with pytest.raises(ConfigChanged):
            stale.name(pa, "Ava")
        assert {p.id: p.name for p in ca.people()}[pa] == "Ada"
    finally:
        a.close()
        b.close()
