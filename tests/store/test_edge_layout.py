"""The embedded store's memory layouts: vectors on disk, int8 copies in RAM, rescoring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lookalike.config import Settings
from lookalike.store import open_store
from lookalike.store.base import StoredPoint, VectorQuery, VectorSpec
from lookalike.store.edge import EdgeCollection, EdgeLayout, EdgeSearch, EdgeStore

POINTS, DIMS = 1_500, 32


def _vectors() -> np.ndarray:
    x = np.random.default_rng(5).standard_normal((POINTS, DIMS)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _built(folder: Path, layout: EdgeLayout, search: EdgeSearch | None = None) -> EdgeCollection:
    store = EdgeStore(folder, hnsw_threshold=1_000, layout=layout, search=search)
    store.create_collection("c", [VectorSpec("v", DIMS)], {"signals": []})
    collection = store.open_collection("c")
    x = _vectors()
    collection.upsert([StoredPoint(str(i), {"n": i}, {"v": x[i].tolist()}) for i in range(POINTS)])
    assert collection.maintain()
    assert collection.status().indexed == POINTS
    return collection


def _files(folder: Path, name: str) -> list[Path]:
    return list((folder / "collections" / "c" / "shard").rglob(name))


def test_quantized_on_disk_collection_answers_exact_scores(tmp_path: Path) -> None:
    collection = _built(tmp_path, EdgeLayout(on_disk=True, quantization=True))
    try:
        layout = collection.config()["layout"]
        assert layout == {
            "on_disk": True,
            "quantization": True,
            "hnsw_m": 16,
            "hnsw_ef_construct": 100,
            "shard_points": 100_000,
        }
        assert _files(tmp_path, "quantized.data"), "the index build made no int8 copies"
        shard_config = json.loads(_files(tmp_path, "edge_config.json")[0].read_text())
        assert shard_config["vectors"]["v"]["memory"] == "cold"
        # the built copy swapped in searches on the calling thread too (see _SEARCH_THREADS)
        assert shard_config["max_search_threads"] == 1
        x = _vectors()
        for i in (0, 17, 999):
            hits = collection.search(VectorQuery("v", x[i].tolist()), limit=5)
            exact = x @ x[i]
            assert hits[0].id == str(i)
            # rescored with the full vectors: the scores are the exact cosines, not int8 ones
            for hit in hits:
                assert hit.score == pytest.approx(float(exact[int(hit.id)]), abs=1e-5)
    finally:
        collection.close()


def test_plain_layout_keeps_no_quantized_copy(tmp_path: Path) -> None:
    collection = _built(tmp_path, EdgeLayout())
    collection.close()
    assert not _files(tmp_path, "quantized.data")


def test_build_and_search_settings_reach_the_collection(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        store_on_disk=True,
        store_quantization=True,
        hnsw_ef=40,
        quantization_oversampling=3.0,
        hnsw_m=12,
        hnsw_ef_construct=48,
    )
    store = open_store(settings)
    assert isinstance(store, EdgeStore)
    assert store.layout == EdgeLayout(
        on_disk=True, quantization=True, hnsw_m=12, hnsw_ef_construct=48
    )
    store.create_collection("c", [VectorSpec("v", DIMS)], {"signals": []})
    # the graph's shape is the shard's own setting, fixed at creation
    shard_config = json.loads(_files(tmp_path, "edge_config.json")[0].read_text())
    assert shard_config["hnsw_config"]["m"] == 12
    assert shard_config["hnsw_config"]["ef_construct"] == 48
    assert shard_config["max_search_threads"] == 1  # one search, one thread
    with store.open_collection("c") as collection:
        assert collection.config()["layout"]["hnsw_ef_construct"] == 48
        assert collection.params is not None
        assert collection.params.hnsw_ef == 40
        assert collection.params.quantization is not None
        assert collection.params.quantization.oversampling == 3.0
        assert collection.params.quantization.rescore is True


def test_payload_indexes_are_mapped_from_files_not_rebuilt_in_ram(tmp_path: Path) -> None:
    """Loading a built shard holds the interpreter lock: its keyword and datetime indexes are
    files the load maps, so the swap after an index build stays short at scale."""
    store = EdgeStore(tmp_path)
    store.create_collection("c", [VectorSpec("v", DIMS)], {"signals": []})
    with store.open_collection("c") as collection:
        x = _vectors()
        collection.upsert(
            [StoredPoint(str(i), {"group": f"g{i % 3}"}, {"v": x[i].tolist()}) for i in range(20)]
        )
        collection.flush()
        assert [p.id for p in collection.retrieve(["7"])] == ["7"]
    configs = _files(tmp_path, "config.json")
    fields = {}
    for path in configs:
        if path.parent.name == "payload_index":
            fields.update(json.loads(path.read_text())["indexed_fields"])
    assert {"group", "indexed_at"} <= set(fields) and "id" not in set(fields)  # ids: by point id
    assert {name: spec.get("memory") for name, spec in fields.items()} == dict.fromkeys(
        fields, "cold"
    )
