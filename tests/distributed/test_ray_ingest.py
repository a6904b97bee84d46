"""Ingest on a local Ray instance (2 CPUs and one declared GPU, shared by the module): the same
records as a local ingest, per-item failures, a streamed catalog, a worker killed mid-run, the
driver killed mid-run, a cluster of another Ray version, GPU workers as configuration.

The GPU here is a logical resource Ray hands out (this machine has none): the tests check that
a worker asking for one gets it and puts its semantic model there, falling back to the CPU
when ONNX Runtime has no CUDA provider; no test runs a model on a real GPU."""

from __future__ import annotations

import json
import logging
import os
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike import Engine, Settings
from lookalike.decode_workers import Prepared, decode_plan, prepare
from lookalike.distributed.worker import Job, SignalWorker
from lookalike.errors import BadInput, ClusterUnavailable, MissingExtra
from lookalike.ingest import signal_payload
from lookalike.models import clip
from lookalike.sources import Item, iter_items
from lookalike.store.base import SparseVector, scroll_all
from lookalike.types import Progress
from tests.conftest import save_variant
from tests.faults.test_killed_cli import IMAGES, _images, _kill_when, _stored
from tests.support.cli import lines, run
from tests.support.faces import face_folder

ray = pytest.importorskip("ray")

from lookalike.distributed import cluster as cluster_mod  # noqa: E402
from lookalike.distributed import ray_ingest  # noqa: E402
from lookalike.distributed.ray_ingest import Resources  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[str]:
    """The module's Ray instance; its address (``host:port``, for a CLI to join it by: ``auto``
    would find the Ray instance started last on the machine, maybe another's)."""
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
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
    local_ray: str, engine: Engine, photos: Path, tiny_model: Path
) -> None:
    (photos / "broken.jpg").write_bytes((photos / "coffee.jpg").read_bytes()[:500])
    big = Image.open(photos / "coffee.jpg")  # camera-size: each way of resizing shows
    big.resize((big.width * 5, big.height * 5)).save(photos / "coffee-big.jpg", quality=90)
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


def test_copies_are_checked_on_insert_as_in_a_local_run(
    local_ray: str, engine: Engine, photos: Path
) -> None:
    save_variant(photos / "coffee.jpg", photos / "coffee-copy.jpg", size=(400, 300))
    reports = {}
    for name, options in (("here", {}), ("there", {"ray": "auto", "ray_workers": 1})):
        coll = engine.create_collection(name, signals="duplicate")
        reports[name] = coll.index([photos], on_duplicate="skip", **options)  # type: ignore[arg-type]

    def summary(report: object) -> list[tuple[str, str, str | None]]:
        return [(o.id, o.status, o.duplicate_of) for o in report.outcomes]  # type: ignore[attr-defined]

    assert summary(reports["there"]) == summary(reports["here"])
    assert ("coffee.jpg", "duplicate", "coffee-copy.jpg") in summary(reports["there"])


def test_unsafe_images_are_refused_as_in_a_local_run(
    local_ray: str, tmp_path: Path, photos: Path
) -> None:
    # Counting faces as unsafe makes the astronaut's portrait "unsafe" with nothing explicit.
    settings = Settings(data_dir=tmp_path / "d", offline=True, unsafe_labels=("FACE_FEMALE",))
    folder = tmp_path / "three"
    folder.mkdir()
    for name in ("astronaut", "coffee", "rocket"):
        (folder / f"{name}.jpg").write_bytes((photos / f"{name}.jpg").read_bytes())
    reports = {}
    with Engine(settings) as engine:
        for name, options in (("here", {}), ("there", {"ray": "auto", "ray_workers": 1})):
            coll = engine.create_collection(
                name, signals="duplicate,moderation", on_unsafe="reject"
            )
            reports[name] = coll.index([folder], **options)  # type: ignore[arg-type]
    outcomes = {n: [(o.id, o.status, o.code) for o in r.outcomes] for n, r in reports.items()}
    assert outcomes["there"] == outcomes["here"]
    assert ("astronaut.jpg", "failed", "unsafe_image") in outcomes["there"]
    assert reports["there"].indexed == 2


def test_a_listing_that_fails_whole_raises_its_error(
    local_ray: str, engine: Engine, photos: Path
) -> None:
    coll = engine.create_collection("nolist", signals="duplicate")
    with pytest.raises(BadInput, match="metadata file .*nope.jsonl"):
        coll.index([photos], metadata_file=photos / "nope.jsonl", ray="auto", ray_workers=1)
    assert coll.count() == 0


def test_a_catalog_is_streamed_in_blocks(local_ray: str, engine: Engine, photos: Path) -> None:
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


def test_the_cluster_lists_a_catalog_a_block_at_a_time(local_ray: str, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.jsonl"
    with catalog.open("w") as out:
        for n in range(10_000):
            line = {"id": f"item-{n}", "path": f"p/{n}.jpg", "metadata": {"n": n, "pad": "x" * 64}}
            out.write(json.dumps(line) + "\n")
    listing = partial(iter_items, [str(catalog)])
    tracemalloc.start()
    whole = list(listing())
    held = tracemalloc.get_traced_memory()[0]  # what the whole listing takes in a driver
    del whole
    tracemalloc.stop()

    for measured in (False, True):
        # The first pass, unmeasured, pays what a driver pays once: the interpreter's table of
        # interned strings (pathlib interns each received path's parts) growing to hold them,
        # one 3.7 MB allocation in a fresh process, none in a driver that has listed before.
        if measured:
            tracemalloc.start()
        sizes, ids = [], 0
        for block in ray_ingest.cluster_listing(ray, listing, 1000):
            sizes.append(len(block))
            ids += sum(1 for entry in block if isinstance(entry, Item))
            del block
        assert sizes == [1000] * 10 and ids == 10_000  # listed on the cluster, received in blocks
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < held / 3, f"streaming peaked at {peak} bytes, the whole list holds {held}"


def test_a_killed_worker_loses_and_doubles_nothing(
    local_ray: str, engine: Engine, photos: Path, monkeypatch: pytest.MonkeyPatch
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


def test_a_worker_sends_back_payload_fields_not_decoded_images(
    local_ray: str, engine: Engine, photos: Path, tiny_model: Path
) -> None:
    coll = engine.create_collection("slim", signals="semantic,duplicate", model=str(tiny_model))
    plan = decode_plan(coll.signals, engine.settings)
    paths = [str(p) for p in sorted(photos.glob("*.jpg"))[:2]]
    result = SignalWorker(*coll.signal_recipe()).process(plan, [Job(p, None, p) for p in paths])
    for path, sent in zip(paths, result.prepared, strict=True):
        assert isinstance(sent, Prepared) and sent.outputs == {}
        assert sent.payload == signal_payload(coll.signals, prepare(plan, path, None, path))


def _huge_png(path: Path, side: int) -> None:
    """A PNG of a few bytes whose header says ``side`` x ``side`` pixels (a decompression
    bomb: decoding it whole would need gigabytes)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\0" * 64)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def test_a_huge_image_fails_that_item_with_too_large(
    local_ray: str, engine: Engine, photos: Path
) -> None:
    _huge_png(photos / "bomb.png", 60_000)
    coll = engine.create_collection("huge", signals="duplicate")
    report = coll.index([photos], ray="auto", ray_workers=1)
    failed = {(o.id, o.code) for o in report.outcomes if o.status == "failed"}
    assert failed == {("bomb.png", "too_large")}
    assert report.indexed == len(list(photos.glob("*.jpg"))) == coll.count()


def test_a_cluster_of_another_ray_version_is_named_with_both_versions(
    local_ray: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cluster_mod.cluster_version(ray) == ray.__version__  # the check point reads it
    monkeypatch.setattr(cluster_mod, "cluster_version", lambda _ray: "2.0.0")
    with pytest.raises(ClusterUnavailable) as caught, cluster_mod.cluster("auto"):
        pass
    assert f"runs Ray 2.0.0, this client Ray {ray.__version__}" in caught.value.message
    assert caught.value.detail == {"client_version": ray.__version__, "cluster_version": "2.0.0"}


def test_ray_s_own_version_refusal_is_named_with_both_versions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ray._private.utils import check_version_info

    def init(**_: object) -> None:  # what ray.init raises when the cluster's GCS disagrees
        check_version_info({"ray_version": "2.0.0", "python_version": "3.9.0"}, "node x")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    with pytest.raises(ClusterUnavailable) as caught, cluster_mod.cluster("auto"):
        pass
    assert caught.value.detail == {"client_version": ray.__version__, "cluster_version": "2.0.0"}


def test_the_pool_is_sized_by_workers_cpus_and_gpus() -> None:
    cluster_totals = {"CPU": 16.0, "GPU": 2.0}
    assert Resources().pool_size(cluster_totals) == 16
    assert Resources(cpus=4).pool_size(cluster_totals) == 4
    assert Resources(cpus=2, gpus=1).pool_size(cluster_totals) == 2
    assert Resources(cpus=1, gpus=0.5).pool_size(cluster_totals) == 4
    assert Resources(workers=3, gpus=1).pool_size(cluster_totals) == 3
    with pytest.raises(ClusterUnavailable, match="asks for 1 GPU, and the cluster has 0"):
        Resources(gpus=1).pool_size({"CPU": 8.0})
    with pytest.raises(ClusterUnavailable, match="asks for 32 CPU"):
        Resources(cpus=32).pool_size(cluster_totals)


def test_a_gpu_worker_puts_its_semantic_model_on_the_gpu(
    local_ray: str,
    engine: Engine,
    photos: Path,
    tiny_model: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coll = engine.create_collection("gpu", signals="semantic,duplicate", model=str(tiny_model))
    run = ray_ingest.ray_ingest_for(
        coll.ingest_options(), coll.signal_recipe(), ray, workers=Resources(gpus=1)
    )
    try:
        assert len(run.workers) == 1  # the one GPU holds one worker
        devices = ray.get(run.workers[0].devices.remote())
        report = run.stream(iter_items([str(photos)]))
    finally:
        run.close()
    assert devices == {"semantic": "cuda", "duplicate": "cpu", "gpus": "0"}
    assert report.indexed == len(list(photos.glob("*.jpg"))) and not report.failed
    # this ONNX Runtime has no CUDA provider: the model falls back to the CPU, saying so
    with caplog.at_level(logging.WARNING, logger=clip.__name__):
        assert clip.onnx_providers("cuda") is None
    assert "onnxruntime-gpu" in caplog.text
    assert clip.onnx_providers("cpu") is None


def test_onnx_gets_cuda_first_where_it_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime

    have = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: have)
    assert clip.onnx_providers("cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert clip.onnx_providers("cpu") is None


def test_more_gpus_than_the_cluster_has_fail_at_once(
    local_ray: str, engine: Engine, photos: Path
) -> None:
    coll = engine.create_collection("nogpu", signals="duplicate")
    start = time.monotonic()
    with pytest.raises(ClusterUnavailable, match="asks for 2 GPU, and the cluster has 1"):
        coll.index([photos], ray="auto", ray_gpus_per_worker=2)
    assert time.monotonic() - start < 30


def test_people_are_regrouped_after_a_ray_ingest_as_after_a_local_one(
    local_ray: str, engine: Engine, tmp_path: Path
) -> None:
    first = face_folder(tmp_path / "first", ("person_a_1", "person_b_1"))
    more = face_folder(tmp_path / "more", ("person_a_2", "group"))
    people = {}
    for name, options in (("here", {}), ("there", {"ray": "auto", "ray_workers": 1})):
        coll = engine.create_collection(name, signals="faces")
        coll.index([first])
        coll.cluster_people()
        assert coll.index([more], **options).indexed == 2  # type: ignore[arg-type]
        people[name] = coll.people()
    assert people["there"] == people["here"]
    samples = sorted(sorted(p.sample) for p in people["there"])
    assert ["person_a_1.jpg", "person_a_2.jpg"] in samples  # the new photo joined person A


def test_an_unreachable_cluster_fails_fast() -> None:
    start = time.monotonic()
    with pytest.raises(ClusterUnavailable, match="cannot reach"):
        cluster_mod.check_reachable("ray://127.0.0.1:9", timeout=2.0)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("address", ["ray://nowhere", "host:port", "http://h:1", "h:99999"])
def test_an_address_that_names_no_cluster_is_the_callers_error(address: str) -> None:
    with pytest.raises(BadInput, match="give local, auto, host:port or ray://host:port"):
        cluster_mod.check_address(address)
    assert cluster_mod.check_address("local") is None
    assert cluster_mod.check_address("auto") == "auto"
    assert cluster_mod.check_address("ray://h:10001") == "ray://h:10001"


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


def test_the_cli_joins_a_running_cluster(local_ray: str, tmp_path: Path, photos: Path) -> None:
    args = ["index", str(photos), "-c", "r", "--signals", "duplicate", "--json"]
    done = run(_env(tmp_path), *args, "--ray", local_ray, "--ray-workers", "1")
    report = lines(done.stdout)[-1]
    assert report["indexed"] == len(list(photos.glob("*.jpg"))) and not report["failed"]


def test_the_cli_names_an_unreachable_cluster(tmp_path: Path, photos: Path) -> None:
    start = time.monotonic()
    args = ["index", str(photos), "-c", "r", "--signals", "duplicate"]
    done = run(_env(tmp_path), *args, "--ray", "ray://127.0.0.1:9", ok=False)
    assert done.returncode == 5
    assert "cannot reach the Ray cluster at ray://127.0.0.1:9" in done.stderr
    assert time.monotonic() - start < 60  # the CLI's own start-up included


def test_a_killed_driver_is_completed_by_a_rerun(local_ray: str, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    _images(folder, seed=14)
    env = {
        **_env(tmp_path),
        "LOOKALIKE_DATA_DIR": str(tmp_path / "data"),
        "LOOKALIKE_BATCH_SIZE": "2",
        "TTY_COMPATIBLE": "1",  # the progress bar draws as on a terminal
        "TTY_INTERACTIVE": "1",
    }
    args = ["index", str(folder), "-c", "c", "--signals", "duplicate"]
    args += ["--ray", local_ray, "--ray-workers", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lookalike", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    stderr = _kill_when(proc, after=0.0, done_at_least=6)  # SIGKILL by its pid
    assert proc.returncode == -signal.SIGKILL, stderr
    stored = _stored(tmp_path / "data")
    assert 0 < len(stored) < IMAGES and len(set(stored)) == len(stored)

    rerun = lines(run(env, *args, "--json").stdout)[-1]
    assert rerun["failed"] == []
    assert rerun["skipped"] == len(stored) and rerun["indexed"] == IMAGES - len(stored)
    ids = _stored(tmp_path / "data")
    assert sorted(ids) == sorted({p.name for p in folder.iterdir()})
