"""Ingest on a local Ray instance (2 CPUs, shared by the module): the same records as a local
ingest, per-item failures, a streamed catalog, a worker killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lookalike import Engine, Settings
from lookalike.errors import ClusterUnavailable, MissingExtra
from lookalike.sources import Item
from lookalike.store.base import SparseVector, scroll_all
from lookalike.types import Progress
from tests.support.cli import lines, run

ray = pytest.importorskip("ray")

from lookalike.distributed import cluster as cluster_mod  # noqa: E402
from lookalike.distributed import ray_ingest  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def engine(tmp_path: Path, tiny_model: Path) -> Iterator[Engine]:
    settings = Settings(
        data_dir=tmp_path / "data", offline=True, default_model=str(tiny_model), batch_size=4
    )
    with Engine(settings) as e:
        yield e


def _records(engine: Engine, name: str) -> dict[str, tuple[dict, dict]]:
    store = engine.collection(name).store
    ids = [p.id for p in scroll_all(store)]
    return {p.id: (p.payload, p.vectors) for p in store.retrieve(ids, with_vectors=True)}


def _array(vector: object) -> np.ndarray:
    if isinstance(vector, SparseVector):
        return np.array([vector.indices, vector.values], dtype=np.float64)
    return np.asarray(vector, dtype=np.float64)


def test_ray_gives_the_records_of_a_local_ingest(
    local_ray: None, engine: Engine, photos: Path, tiny_model: Path
) -> None:
    (photos / "broken.jpg").write_bytes((photos / "coffee.jpg").read_bytes()[:500])
    for name in ("here", "there"):
        engine.create_collection(name, signals="semantic,duplicate", model=str(tiny_model))
    local = engine.collection("here").index([photos])
    seen: list[Progress] = []
    remote = engine.collection("there").index(
        [photos], ray="local", ray_workers=2, progress=seen.append
    )

    def summary(report: object) -> list[tuple[str, str, str | None]]:
        return [(o.id, o.status, o.code) for o in report.outcomes]  # type: ignore[attr-defined]

    assert summary(remote) == summary(local)
    assert ("broken.jpg", "failed", "bad_image") in summary(remote)
    assert remote.indexed == local.indexed > 3
    assert seen and seen[-1].done == len(remote.outcomes)

    here, there = _records(engine, "here"), _records(engine, "there")
    assert sorted(here) == sorted(there)
    for rid, (payload, vectors) in here.items():
        other_payload, other_vectors = there[rid]
        drop = {"indexed_at"}
        assert {k: v for k, v in payload.items() if k not in drop} == {
            k: v for k, v in other_payload.items() if k not in drop
        }
        assert sorted(vectors) == sorted(other_vectors)
        for key, vec in vectors.items():
            np.testing.assert_allclose(_array(vec), _array(other_vectors[key]), atol=1e-5)

    again = engine.collection("there").index([photos], ray="local", ray_workers=1)
    assert again.indexed == 0 and again.skipped == local.indexed


def test_a_catalog_is_streamed_in_blocks(local_ray: None, engine: Engine, photos: Path) -> None:
    catalog = photos.parent / "catalog.jsonl"
    with catalog.open("w") as out:
        for n in range(10_000):
            path = photos / "coffee.jpg" if n % 1000 == 0 else photos / f"gone-{n}.jpg"
            out.write(json.dumps({"id": f"item-{n}", "path": str(path)}) + "\n")
    engine.create_collection("cat", signals="duplicate")
    totals: list[int] = []
    report = engine.collection("cat").index(
        [catalog], ray="local", ray_workers=1, progress=lambda p: totals.append(p.total)
    )
    assert len(report.outcomes) == 10_000
    assert report.indexed == 10 and len(report.failed) == 9_990
    assert {f.code for f in report.failed} == {"bad_input"}
    # the listing was read a block at a time: the first reports knew of one block only
    assert totals[0] <= ray_ingest.BLOCK < 10_000 == totals[-1]


def test_a_killed_worker_loses_and_doubles_nothing(
    local_ray: None, engine: Engine, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray_ingest, "BLOCK", 8)
    coll = engine.create_collection("k", signals="duplicate")
    images = sorted(photos.glob("*.jpg"))
    run = ray_ingest.ray_ingest_for(coll.ingest_options(), coll.signal_recipe(), ray, workers=2)
    victim = ray.get(run.workers[0].pid.remote())
    killed: list[int] = []

    def listing() -> Iterator[Item]:
        for n in range(96):
            if n == 24:
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            yield Item(id=f"img-{n}", source=f"img-{n}", path=images[n % len(images)])

    try:
        report = run.stream(listing())
    finally:
        run.close()
    assert killed
    ids = [o.id for o in report.outcomes]
    assert sorted(ids) == sorted(f"img-{n}" for n in range(96))  # one outcome each
    for o in report.outcomes:
        assert o.status == "indexed" or (o.status == "failed" and o.message)
    assert coll.store.count() == report.indexed
    assert report.indexed + len(report.failed) == 96


def test_an_unreachable_cluster_fails_fast() -> None:
    start = time.monotonic()
    with pytest.raises(ClusterUnavailable, match="cannot reach"):
        cluster_mod.check_reachable("ray://127.0.0.1:9", timeout=2.0)
    with pytest.raises(ClusterUnavailable, match="host and port"):
        cluster_mod.check_reachable("ray://nowhere")
    assert time.monotonic() - start < 5


def test_without_ray_the_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtra, match=r"lookalike\[ray\]"):
        cluster_mod.import_ray()


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LOOKALIKE_DATA_DIR": str(tmp_path / "cli-data"),
        "LOOKALIKE_OFFLINE": "true",
        "COLUMNS": "200",
    }


def test_the_cli_joins_a_running_cluster(local_ray: None, tmp_path: Path, photos: Path) -> None:
    args = ["index", str(photos), "-c", "r", "--signals", "duplicate", "--json"]
    done = run(_env(tmp_path), *args, "--ray", "auto", "--ray-workers", "1")
    report = lines(done.stdout)[-1]
    assert report["indexed"] == len(list(photos.glob("*.jpg"))) and not report["failed"]


def test_the_cli_names_an_unreachable_cluster(tmp_path: Path, photos: Path) -> None:
    start = time.monotonic()
    args = ["index", str(photos), "-c", "r", "--signals", "duplicate"]
    done = run(_env(tmp_path), *args, "--ray", "ray://127.0.0.1:9", ok=False)
    assert done.returncode == 5
    assert "cannot reach the Ray cluster at ray://127.0.0.1:9" in done.stderr
    assert time.monotonic() - start < 60  # the CLI's own start-up included
