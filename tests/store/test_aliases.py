"""Aliases on every backend: created, switched, removed and resolved through the seam; the
refusals are typed."""

from __future__ import annotations

import pytest

from lookalike.errors import BadInput, Conflict, NameTaken, NotFound
from lookalike.store import Store
from lookalike.store.base import StoredPoint, VectorSpec
from tests.store.conftest import StoreFactory

SPECS = [VectorSpec("v", 2)]


def make(store: Store, name: str, *ids: str) -> None:
    store.create_collection(name, SPECS, {"signals": ["semantic"], "name": name})
    opened = store.open_collection(name)
    opened.upsert([StoredPoint(i, {"n": i}, {"v": [1.0, 0.0]}) for i in ids])
    opened.close()


def test_an_alias_resolves_to_its_collection_and_switches(make_store: StoreFactory) -> None:
    store = make_store()
    make(store, "a", "x")
    make(store, "b", "y", "z")
    assert store.resolve("photos") == "photos"  # no alias: the name itself
    store.set_alias("photos", "a")
    assert store.aliases() == {"photos": "a"}
    assert store.resolve("photos") == "a"
    store.set_alias("photos", "b")
    assert store.resolve("photos") == "b"
    assert store.list_collections() == ["a", "b"]  # an alias is no collection
    store.close()
    store = make_store()  # what a restart sees
    assert store.aliases() == {"photos": "b"}
    opened = store.open_collection(store.resolve("photos"))
    assert opened.count() == 2
    opened.close()
    store.set_alias("photos", None)
    assert store.aliases() == {}
    store.close()
    assert make_store().resolve("photos") == "photos"


def test_refusals_are_typed(make_store: StoreFactory) -> None:
    store = make_store()
    make(store, "a", "x")
    make(store, "b", "y")
    with pytest.raises(NotFound):
        store.set_alias("photos", "missing")  # onto a collection there is not
    with pytest.raises(NameTaken):
        store.set_alias("b", "a")  # an alias named like a collection
    store.set_alias("photos", "a")
    with pytest.raises(BadInput):
        store.set_alias("pics", "photos")  # onto another alias
    with pytest.raises(NameTaken):
        store.create_collection("photos", SPECS, {})  # a collection named like an alias
    with pytest.raises(Conflict):
        store.drop_collection("photos")  # through an alias
    with pytest.raises(Conflict):
        store.drop_collection("a")  # named by an alias: it would dangle
    with pytest.raises(NotFound):
        store.set_alias("nothing", None)
    with pytest.raises(BadInput):
        store.set_alias("../x", "a")
    assert store.aliases() == {"photos": "a"}
    assert store.list_collections() == ["a", "b"]


def test_adopting_keeps_the_old_collection_under_a_new_name(make_store: StoreFactory) -> None:
    store = make_store()
    make(store, "photos", "old1", "old2")
    make(store, "photos@v2", "new1")
    store.set_alias("shop", "photos")
    store.adopt("photos", "photos@v2", "photos@v1")
    assert store.aliases() == {"photos": "photos@v2", "shop": "photos@v1"}
    assert store.resolve("photos") == "photos@v2"
    assert store.list_collections() == ["photos@v1", "photos@v2"]
    store.close()
    kept = make_store().open_collection("photos@v1")
    assert sorted(p.id for p in kept.retrieve(["old1", "old2"])) == ["old1", "old2"]
    assert kept.config()["signals"] == ["semantic"]
    kept.close()
