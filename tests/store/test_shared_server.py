"""Two processes on one server store, played by two stores on one local-mode client: a change
of the configuration made by one is kept by the other's next change to another key."""

from __future__ import annotations

from lookalike.store.base import StoredPoint, VectorSpec
from lookalike.store.server import ServerStore


def test_configuration_changes_of_two_writers_are_both_kept() -> None:
    first = ServerStore.connect("qdrant-local::memory:")
    second = ServerStore(first.client, url=first.url)
    first.create_collection("c", [VectorSpec("v", 2)], {"signals": []})
    a, b = first.open_collection("c"), second.open_collection("c")  # no lock: both open it
    a.update_config({"people": {"next": 2}})
    b.update_config({"note": "kept"})  # b read the configuration before a's change
    assert a.update_config({})["note"] == "kept"
    assert b.config()["people"] == {"next": 2}
    a.upsert([StoredPoint("r", {}, {"v": [1.0, 0.0]})])
    assert b.count() == 1 and b.retrieve(["r"])[0].id == "r"
    first.close()
