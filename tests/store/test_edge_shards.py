"""An embedded collection split over several shards (``shard_points``): each full shard's index
is built while the next one fills, a rewritten record lives in one shard only, and what a killed
build or creation leaves is cleaned up on opening."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as qe

from lookalike.filters import parse_filter
from lookalike.store.base import StoredPoint, VectorQuery, VectorSpec
from lookalike.store.edge import EdgeLayout, EdgeStore
from tests.support.builds import hold_builds

SPECS = [VectorSpec("v", 8)]


def points(start: int, count: int, *, tag: str = "a") -> list[StoredPoint]:
    rng = np.random.default_rng(start)
    return [
        StoredPoint(f"p{i}", {"tag": tag, "n": i}, {"v": [float(x) for x in rng.normal(size=8)]})
        for i in range(start, start + count)
    ]


def shards(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith("shard") and "." not in p.name
    )


def make(tmp_path: Path, *, threshold: int = 40, per_shard: int = 100) -> EdgeStore:
    store = EdgeStore(tmp_path, hnsw_threshold=threshold, layout=EdgeLayout(shard_points=per_shard))
    store.create_collection("c", SPECS, {"signals": ["x"]})
    return store


def exact_top(all_points: list[StoredPoint], vector: list[float], k: int) -> list[str]:
    m = np.array([p.vectors["v"] for p in all_points])
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    q = np.array(vector) / np.linalg.norm(vector)
    order = np.argsort(-(m @ q), kind="stable")[:k]
    return [all_points[i].id for i in order]


def test_full_shards_are_indexed_while_the_next_fills(tmp_path: Path) -> None:
    coll = make(tmp_path).open_collection("c")
    try:
        written = points(0, 350)
        for start in range(0, 350, 30):
            coll.upsert(written[start : start + 30])
        assert shards(coll.folder)[:4] == ["shard", "shard-1", "shard-2", "shard-3"]
        assert coll.count() == 350
        assert coll.maintain() is True
        status = coll.status()
        assert status.points == 350 and status.indexed == 350  # the last shard too (50 >= 40)
        for probe in written[::37]:
            hits = coll.search(VectorQuery("v", probe.vectors["v"]), limit=10)
            assert [h.id for h in hits] == exact_top(written, probe.vectors["v"], 10)
    finally:
        coll.close()


def test_writes_go_on_while_a_full_shard_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release, entered = hold_builds(monkeypatch)
    coll = make(tmp_path).open_collection("c")
    try:
        coll.upsert(points(0, 100))
        coll.upsert(points(100, 10))  # the first shard is full: its build starts
        assert entered.wait(30)
        started = time.monotonic()
        fresh = points(110, 50)
        coll.upsert(fresh)  # new points: not held up by the build
        assert time.monotonic() - started < 10
        assert coll.count() == 160
        probe = fresh[10].vectors["v"]
        assert [h.id for h in coll.search(VectorQuery("v", probe), limit=1)] == ["p120"]
        # A rewrite of a point of the building shard waits for the build, as writes to it do.
        rewrite = threading.Thread(target=coll.upsert, args=(points(5, 1, tag="b"),))
        rewrite.start()
        rewrite.join(0.5)
        assert rewrite.is_alive()
        release.set()
        rewrite.join(60)
        coll.maintain()
        assert coll.count() == 160 and coll.status().indexed == 160
        again = coll.retrieve(["p5"])
        assert len(again) == 1 and again[0].payload["tag"] == "b"
    finally:
        release.set()
        coll.close()


def test_a_record_rewritten_later_lives_in_one_shard(tmp_path: Path) -> None:
    store = make(tmp_path, threshold=10_000, per_shard=10)
    coll = store.open_collection("c")
    try:
        coll.upsert(points(0, 25))
        coll.upsert(points(3, 2, tag="new"))  # p3, p4 were in the first shard
        assert coll.count() == 25
        got = {p.id: p.payload["tag"] for p in coll.retrieve(["p3", "p4", "p20"])}
        assert got == {"p3": "new", "p4": "new", "p20": "a"}
        assert coll.count(None) == len({p.id for p in coll.scroll(limit=100)[0]}) == 25
        coll.set_payload(["p3", "p21"], {"tag": "set"})
        assert {p.id: p.payload["tag"] for p in coll.retrieve(["p3", "p21"])} == {
            "p3": "set",
            "p21": "set",
        }
        coll.delete(["p3", "p24"])
        assert coll.count() == 23 and not coll.retrieve(["p3", "p24"])
    finally:
        coll.close()
    reopened = store.open_collection("c")
    try:
        assert reopened.count() == 23
        assert len(shards(reopened.folder)) >= 3
    finally:
        reopened.close()


def test_what_a_killed_build_or_creation_left_is_undone_on_opening(tmp_path: Path) -> None:
    store = make(tmp_path, threshold=10_000, per_shard=10)
    coll = store.open_collection("c")
    coll.upsert(points(0, 25))
    folder = coll.folder
    coll.close()
    (folder / "shard-1").rename(folder / "shard-1.retired")  # killed between the swap's renames
    for leftover in ("shard-1.building", "shard-2.building", "shard-3.partial"):
        (folder / leftover).mkdir()
        (folder / leftover / "junk").write_text("half a copy")
    coll = store.open_collection("c")
    try:
        assert shards(folder) == ["shard", "shard-1", "shard-2"]
        assert coll.count() == 25
    finally:
        coll.close()


def test_a_collection_closed_under_a_request_is_not_found(tmp_path: Path) -> None:
    """A request that took the collection just before it was dropped (and so closed) gets
    not_found, not a store failure that tells the client to retry."""
    from lookalike.errors import NotFound

    coll = make(tmp_path, per_shard=10).open_collection("c")
    coll.upsert(points(0, 15))
    coll.close()
    for call in (
        lambda: coll.upsert(points(20, 1)),
        lambda: coll.count(),
        lambda: coll.search(VectorQuery("v", [1.0] * 8), limit=3),
        lambda: coll.retrieve(["p1"]),
    ):
        with pytest.raises(NotFound):
            call()


def test_a_filter_on_ids_needs_no_index_of_them_old_shards_or_new(tmp_path: Path) -> None:
    coll = make(tmp_path, threshold=10_000, per_shard=100).open_collection("c")
    try:
        # A shard made before ids went unindexed keeps its keyword index of them.
        old = qe.UpdateOperation.create_field_index("id", qe.KeywordIndexParams())
        coll._parts[0].shard.update(old)  # noqa: SLF001
        written = points(0, 150)
        coll.upsert(written)  # a second shard opens at 100
        schemas = [dict(part.shard.info().payload_schema or {}) for part in coll._parts]  # noqa: SLF001
        assert len(schemas) == 2 and "id" in schemas[0]
        assert "id" not in schemas[1] and "group" in schemas[1]
        assert "indexed_at" in schemas[1]  # the datetime indexes as before
        assert coll.count(parse_filter({"id": "p120"})) == 1
        assert coll.count(parse_filter({"id": {"$in": ["p5", "p120", "nope"]}})) == 2
        assert coll.count(parse_filter({"id": {"$ne": "p5"}})) == 149
        assert coll.count(parse_filter({"id": {"$nin": ["p5", "p120"]}})) == 148
        assert coll.count(parse_filter({"id": 5})) == 0  # ids are strings
        hits = coll.search(
            VectorQuery("v", written[130].vectors["v"]),
            limit=3,
            filter=parse_filter({"id": {"$in": ["p7", "p130"]}}),
        )
        assert [h.id for h in hits] == ["p130", "p7"]
    finally:
        coll.close()
