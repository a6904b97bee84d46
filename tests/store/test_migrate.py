"""Copying collections between stores: every point whole, the configuration, resumption after
an interruption, refusal of a non-empty target, verification."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from lookalike import Settings
from lookalike.errors import BadInput, Conflict, StoreUnavailable
from lookalike.payload import THUMBNAIL
from lookalike.store import CollectionStore, Store, open_store
from lookalike.store.base import MultiVector, SparseVector, StoredPoint, VectorQuery, VectorSpec
from lookalike.store.migrate import MIGRATION_KEY, migrate

SPECS = [
    VectorSpec("v", 3),
    VectorSpec("text", 0, sparse=True),
    VectorSpec("faces", 2, multivector=True),
]
N = 23


def points() -> list[StoredPoint]:
    out = []
    for i in range(N):
        vectors: dict[str, Any] = {"v": [1.0, float(i), 0.5]}
        if i % 3 == 0:
            vectors["text"] = SparseVector([i, 100], [1.0, 0.5])
        if i % 4 == 0:
            vectors["faces"] = MultiVector([[1.0, float(i)], [float(i), 1.0]])
        payload = {"metadata": {"n": i}, "group": f"g{i % 5}", THUMBNAIL: f"T{i}"}
        out.append(StoredPoint(f"r{i:02d}", payload, vectors))
    return out


def store_at(tmp_path: Path, url: str) -> Store:
    return open_store(Settings(data_dir=tmp_path, offline=True), url)


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Store]:
    store = store_at(tmp_path / "a", "edge")
    store.create_collection("photos", SPECS, {"signals": ["semantic"], "model": "m"})
    with store.open_collection("photos") as coll:
        coll.upsert(points())
        coll.update_config({"people": {"next": 4, "names": {"1": "Ada"}}})
    yield store
    store.close()


def snapshot(coll: CollectionStore) -> dict[str, Any]:
    ids = [f"r{i:02d}" for i in range(N)]
    whole = coll.retrieve(ids, with_vectors=True)
    hits = coll.search(VectorQuery("v", [1.0, 3.0, 0.5]), limit=5)
    sparse = coll.search(VectorQuery("text", SparseVector([100, 3], [1.0, 1.0])), limit=20)
    config = {k: v for k, v in coll.config().items() if k not in ("hnsw_threshold",)}
    return {
        "points": sorted((p.id, sorted(p.payload.items())) for p in whole),
        "hits": [(h.id, round(h.score, 4)) for h in hits],
        "sparse": sorted((h.id, round(h.score, 4)) for h in sparse),
        "config": config,
        "count": coll.count(),
    }


def test_round_trip_edge_to_local_mode_to_edge(edge: Store, tmp_path: Path) -> None:
    server = store_at(tmp_path, "qdrant-local::memory:")
    back = store_at(tmp_path / "b", "edge")
    seen: list[tuple[int, int]] = []
    report = migrate(
        "photos", edge, server, batch_size=5, progress=lambda d, t: seen.append((d, t))
    )
    assert report.total == report.copied == N and report.already_there == 0
    assert report.verified > 0 and seen[-1] == (N, N) and len(seen) == 5
    again = migrate("photos", server, back, batch_size=7)
    assert again.copied == N
    with edge.open_collection("photos") as a, back.open_collection("photos") as b:
        before, after = snapshot(a), snapshot(b)
    assert after == before
    assert MIGRATION_KEY not in after["config"]
    assert after["config"]["people"] == {"next": 4, "names": {"1": "Ada"}}
    with server.open_collection("photos") as s:
        assert s.retrieve(["r04"], with_vectors=True)[0].payload[THUMBNAIL] == "T4"


class Flaky:
    """A collection whose writes fail: ``failures`` times in a row, after ``ok`` good writes."""

    def __init__(self, inner: CollectionStore, *, ok: int, failures: int) -> None:
        self.inner, self.ok, self.failures = inner, ok, failures

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        if self.ok > 0:
            self.ok -= 1
        elif self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("timed out")
        self.inner.upsert(points)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FlakyStore:
    def __init__(self, inner: Store, **flaky: int) -> None:
        self.inner, self.flaky = inner, flaky
        self.url = inner.url

    def open_collection(self, name: str) -> Any:
        return Flaky(self.inner.open_collection(name), **self.flaky)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_interrupted_copy_resumes_and_a_timeout_is_retried(edge: Store, tmp_path: Path) -> None:
    server = store_at(tmp_path, "qdrant-local::memory:")
    broken = FlakyStore(server, ok=2, failures=100)
    with pytest.raises(StoreUnavailable) as caught:
        migrate("photos", edge, broken, batch_size=5, retries=1)  # type: ignore[arg-type]
    assert "rerun to resume" in caught.value.message
    with server.open_collection("photos") as partial:
        assert partial.count() == 10 and partial.config()[MIGRATION_KEY] == {"from": "edge"}
    hiccup = FlakyStore(server, ok=0, failures=1)
    report = migrate("photos", edge, hiccup, batch_size=5, retries=2)  # type: ignore[arg-type]
    assert report.already_there == 10 and report.copied == N - 10
    with server.open_collection("photos") as done:
        assert done.count() == N and MIGRATION_KEY not in done.config()


def test_a_non_empty_target_is_refused_unless_overwritten(edge: Store, tmp_path: Path) -> None:
    server = store_at(tmp_path, "qdrant-local::memory:")
    server.create_collection("photos", SPECS, {"signals": []})
    with server.open_collection("photos") as other:
        other.upsert([StoredPoint("mine", {}, {"v": [1.0, 0.0, 0.0]})])
    with pytest.raises(Conflict):
        migrate("photos", edge, server)
    report = migrate("photos", edge, server, overwrite=True)
    assert report.copied == N
    with server.open_collection("photos") as copy:
        assert copy.count() == N and not copy.retrieve(["mine"])
    with pytest.raises(BadInput):
        migrate("photos", edge, edge)
