"""Schema step 1 -> 2 on the embedded store: a collection made before schema versions (its
configuration in ``collection.json`` beside the shard) opens, and its configuration moves into
the shard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import qdrant_edge as qe

from lookalike.errors import NotFound
from lookalike.store.base import VectorQuery, point_id
from lookalike.store.edge import LEGACY_CONFIG, EdgeStore
from lookalike.store.schema import SCHEMA_VERSION, VERSION_KEY

V1_CONFIG = {
    "name": "old",
    "signals": ["semantic"],
    "model": "m",
    "model_id": "folder:m#1",
    "dims": {"semantic": 2},
    "created_at": "2026-11-01T00:00:00+00:00",
    "vectors": [
        {"name": "semantic", "size": 2, "distance": "cosine", "sparse": False, "multivector": False}
    ],
    "hnsw_threshold": 1234,
    "people": {"next": 2, "names": {"1": "Ada"}},
}


def make_v1(data_dir: Path) -> Path:
    """A collection laid out as schema version 1 wrote it."""
    folder = data_dir / "collections" / "old"
    folder.mkdir(parents=True)
    config = qe.EdgeConfig(
        vectors={"semantic": qe.EdgeVectorParams(size=2, distance=qe.Distance.Cosine)}
    )
    shard = qe.EdgeShard.create(str(folder / "shard"), config)
    points = [
        qe.Point(point_id(rid), {"semantic": v}, {"id": rid, "source": f"{rid}.jpg"})
        for rid, v in (("a", [1.0, 0.0]), ("b", [0.0, 1.0]))
    ]
    shard.update(qe.UpdateOperation.upsert_points(points))
    shard.flush()
    shard.close()
    (folder / LEGACY_CONFIG).write_text(json.dumps(V1_CONFIG))
    return folder


def test_a_version_1_collection_opens_and_moves_its_configuration(tmp_path: Path) -> None:
    folder = make_v1(tmp_path)
    store = EdgeStore(tmp_path, hnsw_threshold=20_000)
    assert store.list_collections() == ["old"]
    with store.open_collection("old") as coll:
        config = coll.config()
        assert config[VERSION_KEY] == SCHEMA_VERSION
        assert {k: config[k] for k in V1_CONFIG} == V1_CONFIG
        assert config["on_unsafe"] == "allow" and config["thumbnails"] is False
        assert config["semantic_input"] == "shared"  # its records' semantic input: schema 3
        assert coll.hnsw_threshold == 1234  # fixed when it was made
        assert coll.count() == 2 and coll.status().points == 2
        assert coll.search(VectorQuery("semantic", [1.0, 0.0]), limit=1)[0].id == "a"
    assert not (folder / LEGACY_CONFIG).exists()
    with store.open_collection("old") as again:  # now read from the shard itself
        assert again.config() == config
        assert again.count() == 2


def test_an_interrupted_create_is_no_collection(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    partial = tmp_path / "collections" / "new" / "shard.partial"
    partial.mkdir(parents=True)
    assert store.list_collections() == []
    with pytest.raises(NotFound):
        store.open_collection("new")
