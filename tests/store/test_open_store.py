"""Choosing a store by the ``store`` setting."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lookalike import Settings
from lookalike.errors import BadInput, StoreUnavailable
from lookalike.payload import FIELD_INDEXES
from lookalike.store import KNOWN_STORES, open_store
from lookalike.store.base import VectorSpec
from lookalike.store.edge import EdgeStore
from lookalike.store.server import CreateOptions, ServerStore


def settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(data_dir=tmp_path, offline=True, **extra)  # type: ignore[arg-type]


def test_edge_is_the_default(tmp_path: Path) -> None:
    assert settings(tmp_path).store == "edge"
    assert isinstance(open_store(settings(tmp_path)), EdgeStore)


def test_an_unknown_store_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as caught:
        open_store(settings(tmp_path, store="mongodb://db"))
    assert "mongodb://db" in caught.value.message
    for known in KNOWN_STORES:
        assert known in caught.value.message


def test_an_unreachable_server_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable):
        open_store(settings(tmp_path, store="http://127.0.0.1:9"))


def test_local_mode_in_memory_and_prefixes_share_one_client(tmp_path: Path) -> None:
    store = open_store(settings(tmp_path, store="qdrant-local::memory:", store_prefix="a_"))
    assert isinstance(store, ServerStore)
    other = ServerStore(store.client, url=store.url, prefix="b_")
    store.create_collection("photos", [VectorSpec("v", 2)], {"signals": []})
    other.create_collection("photos", [VectorSpec("v", 2)], {"signals": ["x"]})
    assert store.list_collections() == other.list_collections() == ["photos"]
    assert sorted(c.name for c in store.client.get_collections().collections) == [
        "a_photos",
        "b_photos",
    ]
    assert store.open_collection("photos").config()["signals"] == []
    store.drop_collection("photos")
    assert store.list_collections() == [] and other.list_collections() == ["photos"]
    store.close()


class Recorder:
    """Stands in for a server's client: records how a collection is made."""

    def __init__(self) -> None:
        self.created: dict[str, Any] = {}
        self.indexes: dict[str, str] = {}

    def collection_exists(self, name: str) -> bool:
        return False

    def get_collections(self) -> Any:
        return SimpleNamespace(collections=[])

    def get_aliases(self) -> Any:
        return SimpleNamespace(aliases=[])

    def create_collection(self, name: str, **options: Any) -> None:
        self.created = {"name": name, **options}

    def create_payload_index(self, name: str, field: str, kind: Any) -> None:
        self.indexes[field] = str(kind.value)

    def upsert(self, *args: Any, **kwargs: Any) -> None:
        pass


def test_a_server_collection_gets_the_cluster_options_and_field_indexes() -> None:
    client = Recorder()
    options = CreateOptions(
        shards=3,
        replicas=2,
        write_consistency=2,
        on_disk=True,
        quantization=True,
        hnsw_m=24,
        hnsw_ef_construct=64,
    )
    store = ServerStore(client, url="http://qdrant:6333", prefix="p_", options=options)  # type: ignore[arg-type]
    store.create_collection("c", [VectorSpec("v", 4), VectorSpec("t", 0, sparse=True)], {})
    made = client.created
    assert made["name"] == "p_c" and made["shard_number"] == 3
    assert made["replication_factor"] == 2 and made["write_consistency_factor"] == 2
    assert made["vectors_config"]["v"].on_disk is True and "t" in made["sparse_vectors_config"]
    assert made["quantization_config"].scalar.always_ram is True
    assert (made["hnsw_config"].m, made["hnsw_config"].ef_construct) == (24, 64)
    assert client.indexes == FIELD_INDEXES
