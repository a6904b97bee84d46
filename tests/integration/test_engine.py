"""The engine end to end on the real Qdrant Edge store, real photos and the tiny CLIP model."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from lookalike import Engine, Settings
from lookalike.errors import (
    BadInput,
    Conflict,
    InvalidFilter,
    InvalidQuery,
    ModelUnavailable,
    NotFound,
    StoreLocked,
)
from tests.conftest import save_variant
from tests.support.image_server import serving
from tests.support.photo_collection import indexed_collection


@pytest.fixture
def coll(engine: Engine, tiny_model: Path, photos: Path):  # type: ignore[no-untyped-def]
    n = len(list(photos.iterdir()))
    signals, model = "semantic,duplicate", str(tiny_model)
    return indexed_collection(engine, "photos", [photos], expected=n, signals=signals, model=model)


def test_index_folder_then_search_by_image_scores_itself_highest(coll, photos: Path) -> None:
    for image in sorted(photos.iterdir()):
        results = coll.search(image=image, top_k=3, scores=["duplicate"])
        assert results[0].id == image.name
        assert results[0].score >= 0.99
        assert results[0].scores["semantic"] >= 0.99 and results[0].scores["duplicate"] >= 0.99
        assert all(0.0 <= r.score <= 1.0 for r in results)
        assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_duplicate_signal_finds_a_recompressed_copy(coll, photos: Path, tmp_path: Path) -> None:
    copy = save_variant(photos / "chelsea.jpg", tmp_path / "copy.jpg", size=(200, 133), quality=35)
    top = coll.search(image=copy, signal="duplicate", top_k=2)
    assert top[0].id == "chelsea.jpg" and top[0].score >= 0.9
    assert top[1].score < 0.6


def test_search_by_text_by_id_and_bytes(coll, photos: Path) -> None:
    by_text = coll.search(text="a cat on a sofa", top_k=4)
    assert len(by_text) == 4 and set(by_text[0].scores) == {"semantic"}
    neighbours = coll.search(id="coffee.jpg", top_k=100)
    assert "coffee.jpg" not in [r.id for r in neighbours]
    assert len(neighbours) == len(list(photos.iterdir())) - 1
    by_bytes = coll.search(image=(photos / "rocket.jpg").read_bytes(), top_k=1)
    assert by_bytes[0].id == "rocket.jpg"


def test_positive_and_negative_examples_and_region(coll, photos: Path) -> None:
    results = coll.search(positive=["astronaut.jpg"], negative=["coffee.jpg"], top_k=3)
    assert {"astronaut.jpg", "coffee.jpg"}.isdisjoint(r.id for r in results)
    region = coll.search(image=photos / "astronaut.jpg", region=(0, 0, 256, 256), top_k=1)
    assert region and region[0].score < 0.999  # a crop is not the whole image
    with pytest.raises(BadInput):
        coll.search(image=photos / "astronaut.jpg", region=(0, 0, 5000, 10))


def test_bad_queries_are_typed_errors(coll) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        coll.search(id="missing.jpg")
    with pytest.raises(InvalidQuery):
        coll.search(text="x", id="coffee.jpg")
    with pytest.raises(InvalidQuery):
        coll.search(text="cat", top_k=0)
    with pytest.raises(InvalidQuery):
        coll.search(text="cat", threshold=1.5)
    with pytest.raises(InvalidFilter, match=r"\$where"):
        coll.search(text="cat", filter={"$where": "1"})
    with pytest.raises(InvalidFilter, match=r"\$where"):  # the filter is read first: said
        coll.search(id="missing.jpg", filter={"$where": "1"})  # before any record is looked up
    with pytest.raises(NotFound):
        coll.search(image="/no/such/file.jpg")


def test_threshold_filters_results(coll, photos: Path) -> None:
    results = coll.search(image=photos / "camera.jpg", threshold=0.99, top_k=10)
    assert [r.id for r in results] == ["camera.jpg"]


def test_filters_and_groups(engine: Engine, tiny_model: Path, photos: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.jsonl"
    lines = [
        {
            "id": "p1-a",
            "path": str(photos / "chelsea.jpg"),
            "group": "p1",
            "metadata": {"category": "cats", "price": 10, "dims": {"w": 451}},
        },
        {
            "id": "p1-b",
            "path": str(photos / "coffee.jpg"),
            "group": "p1",
            "metadata": {"category": "drinks", "price": 120.5},
        },
        {
            "_id": "p2-a",
            "_file": str(photos / "rocket.jpg"),
            "category": "space",
            "price": 99,
            "group": "p2",
        },
        {
            "_id": "p3-a",
            "_base64": base64.b64encode((photos / "astronaut.jpg").read_bytes()).decode(),
            "category": "space",
            "price": 300,
        },
    ]
    catalog.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    c = engine.create_collection("shop", model=str(tiny_model))
    report = c.index([catalog])
    assert report.indexed == 4, report.failed
    assert c.get("p2-a")["metadata"] == {"category": "space", "price": 99}
    assert c.get("p2-a")["group"] == "p2"
    assert c.count({"category": "space"}) == 2
    assert c.count({"price": {"$lt": 100}}) == 2
    assert c.count({"dims.w": {"$gte": 451}}) == 1
    assert c.count({"$or": [{"category": "cats"}, {"price": {"$gt": 200}}]}) == 2
    hits = c.search(text="anything", filter={"category": {"$in": ["space", "cats"]}}, top_k=10)
    assert {h.id for h in hits} == {"p1-a", "p2-a", "p3-a"}
    grouped = c.search(text="anything", group=True, top_k=10)
    groups = [h.group or h.id for h in grouped]
    assert len(groups) == len(set(groups)) == 3


def test_reindex_is_idempotent_changed_files_reindexed_prune(
    engine: Engine, tiny_model: Path, photos: Path
) -> None:
    c = engine.create_collection("p", model=str(tiny_model))
    n = len(list(photos.iterdir()))
    assert c.index([photos]).indexed == n
    again = c.index([photos])
    assert (again.indexed, again.skipped, again.failed) == (0, n, [])
    before = c.get("coffee.jpg")["content_hash"]
    Image.open(photos / "chelsea.jpg").save(photos / "coffee.jpg", quality=70)
    (photos / "rocket.jpg").unlink()
    third = c.index([photos], prune=True)
    assert (third.indexed, third.skipped, third.pruned) == (1, n - 2, 1)
    assert c.get("coffee.jpg")["content_hash"] != before
    assert c.count() == n - 1
    with pytest.raises(NotFound):
        c.get("rocket.jpg")
    top = c.search(image=photos / "coffee.jpg", signal="duplicate", top_k=2)
    assert {top[0].id, top[1].id} == {"coffee.jpg", "chelsea.jpg"}


def test_bad_files_fail_alone(engine: Engine, tiny_model: Path, photos: Path) -> None:
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "text.png").write_text("not an image at all")
    (photos / "cut.jpg").write_bytes((photos / "camera.jpg").read_bytes()[:2000])
    (photos / ".hidden.jpg").write_bytes(b"")
    c = engine.create_collection("bad", model=str(tiny_model))
    report = c.index([photos])
    assert report.indexed == len(list(photos.iterdir())) - 4
    failed = {Path(f.source).name: f for f in report.failed}
    assert set(failed) == {"empty.jpg", "text.png", "cut.jpg"}
    assert all(f.code == "bad_image" and f.message for f in failed.values())


def test_update_delete_get(coll) -> None:  # type: ignore[no-untyped-def]
    updated = coll.update("coffee.jpg", metadata={"tags": ["hot"], "price": 3})
    assert updated["metadata"] == {"tags": ["hot"], "price": 3}
    merged = coll.update("coffee.jpg", metadata={"size": "L"}, merge=True)
    assert merged["metadata"] == {"tags": ["hot"], "price": 3, "size": "L"}
    assert coll.count({"tags": "hot"}) == 1
    before = coll.count()
    assert coll.delete(["coffee.jpg", "nope"]) == {"coffee.jpg": True, "nope": False}
    assert coll.count() == before - 1
    with pytest.raises(NotFound):
        coll.update("nope", metadata={})


def test_persists_across_engines_and_processes(
    settings: Settings, tiny_model: Path, photos: Path
) -> None:
    with Engine(settings) as e1:
        e1.create_collection("keep", model=str(tiny_model)).index([photos])
    with Engine(settings) as e2:
        assert e2.list_collections() == ["keep"]
        assert e2.collection("keep").search(image=photos / "retina.jpg")[0].id == "retina.jpg"
    code = (
        "from lookalike import Engine, Settings; import sys\n"
        f"e = Engine(Settings(data_dir={str(settings.data_dir)!r}, offline=True))\n"
        f"print(e.collection('keep').search(text='x', top_k=3)[0].id); e.close()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(".jpg")


def test_second_process_gets_a_clear_lock_error(
    settings: Settings, tiny_model: Path, photos: Path
) -> None:
    with Engine(settings) as e:
        c = e.create_collection("locked", model=str(tiny_model))
        c.index([photos])
        code = (
            "from lookalike import Engine, Settings\n"
            "from lookalike.errors import StoreLocked\n"
            f"e = Engine(Settings(data_dir={str(settings.data_dir)!r}, offline=True))\n"
            "try:\n    e.collection('locked').count()\n"
            "except StoreLocked as exc:\n    print('LOCKED', exc.message)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert "LOCKED" in done.stdout and str(os.getpid()) in done.stdout, done.stderr
        with pytest.raises(StoreLocked):
            Engine(settings).collection("locked").count()


def test_collection_config_conflicts_and_drop(engine: Engine, tiny_model: Path) -> None:
    engine.create_collection("a", signals="duplicate")
    with pytest.raises(Conflict):
        engine.create_collection("a", signals="duplicate")
    with pytest.raises(Conflict):
        engine.create_collection(
            "a", signals="semantic,duplicate", model=str(tiny_model), exist_ok=True
        )
    with pytest.raises(BadInput):
        engine.create_collection("bad name/..", signals="duplicate")
    with pytest.raises(BadInput):
        engine.create_collection("b", signals="semantic,colour")
    info = engine.collection("a").info()
    assert info["signals"] == ["duplicate"] and info["count"] == 0
    engine.drop_collection("a")
    assert engine.list_collections() == []
    with pytest.raises(NotFound):
        engine.collection("a")


def test_a_model_or_precision_is_only_asked_of_a_collection_with_a_model(
    engine: Engine, tiny_model: Path
) -> None:
    """As documented: a new collection without the semantic signal takes neither, and an
    existing one must have the model and precision asked, not silently ignore them."""
    for asked in ({"model": "/nonexistent"}, {"precision": "int8"}):
        with pytest.raises(BadInput, match="add the semantic signal"):
            engine.create_collection("c", signals="duplicate", **asked)  # type: ignore[arg-type]
    engine.create_collection("d", signals="duplicate")
    for asked, words in (
        ({"model": "foo"}, "model 'foo'"),
        ({"precision": "int8"}, "precision int8"),
    ):
        with pytest.raises(Conflict, match=f"has no model \\(signals duplicate\\): {words}"):
            engine.create_collection("d", exist_ok=True, **asked)  # type: ignore[arg-type]
    assert engine.create_collection("d", exist_ok=True, precision="fp32").name == "d"
    engine.create_collection("s", signals="semantic", model=str(tiny_model))
    with pytest.raises(Conflict, match="uses model"):
        engine.create_collection("s", exist_ok=True, model="foo")
    assert engine.list_collections() == ["d", "s"]


def test_missing_model_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as info:
        engine.create_collection("m")  # default model, offline, no files
    assert "clip" in info.value.message.lower()
    with pytest.raises(ModelUnavailable):
        engine.create_collection("m2", model=str(tmp_path / "no-model-here"))
    assert engine.list_collections() == []


def test_duplicate_only_collection_needs_no_model(engine: Engine, photos: Path) -> None:
    c = engine.create_collection("offline", signals="duplicate")
    assert c.index([photos]).indexed == len(list(photos.iterdir()))
    top = c.search(image=photos / "astronaut.jpg", top_k=1)
    assert top[0].id == "astronaut.jpg" and top[0].scores == {"duplicate": 1.0}
    with pytest.raises(BadInput):
        c.search(text="astronaut")


def test_hnsw_index_is_built_at_the_end_of_a_large_ingest(tmp_path: Path) -> None:
    import numpy as np

    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(60):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(
            folder / f"{i:02d}.png"
        )
    settings = Settings(data_dir=tmp_path / "data", offline=True, hnsw_threshold=40)
    phases: list[str] = []
    with Engine(settings) as engine:
        c = engine.create_collection("big", signals="duplicate")
        small = c.add([{"id": "first", "path": folder / "00.png"}])
        assert not small.index_built and c.info()["hnsw_indexed"] == 0
        report = c.index([folder], progress=lambda p: phases.append(p.phase))
        assert report.index_built and "building index" in phases
        assert c.info()["hnsw_indexed"] == c.count() == 61
        assert c.search(image=folder / "17.png", top_k=1)[0].id == "17.png"
        again = c.index([folder])
        assert not again.index_built and again.skipped == 60


def test_add_accepts_paths_urls_bytes_and_base64(engine: Engine, photos: Path) -> None:
    c = engine.create_collection("api", signals="duplicate")
    raw = (photos / "coffee.jpg").read_bytes()
    report = c.add(
        [
            {"id": "p", "path": photos / "chelsea.jpg", "metadata": {"k": 1}, "group": "g"},
            {"id": "b", "data": raw},
            {"base64": base64.b64encode(raw).decode()},
            {"id": "bad", "data": b"nope"},
            {"id": "two", "data": raw, "path": photos / "rocket.jpg"},
        ]
    )
    assert report.indexed == 3
    assert {f.code for f in report.failed} == {"bad_image", "bad_input"}
    assert c.get("p")["metadata"] == {"k": 1} and c.get("p")["group"] == "g"
    assert c.count() == 3


def test_a_crashing_decoder_costs_one_image_not_the_run(tmp_path: Path) -> None:
    import numpy as np

    from lookalike.ingest import Ingest
    from lookalike.signals.duplicate import DuplicateSignal
    from lookalike.sources import iter_items
    from tests.support.crashing import CRASH_WIDTH, CrashingSignal

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for i in range(40):
        width = CRASH_WIDTH if i == 7 else 64
        Image.fromarray(rng.integers(0, 255, (48, width, 3), dtype=np.uint8)).save(
            folder / f"{i:02d}.png"
        )
    settings = Settings(data_dir=tmp_path / "data", offline=True, decode_workers=2)
    with Engine(settings) as engine:
        c = engine.create_collection("c", signals="duplicate")
        ingest = Ingest(c.store, [DuplicateSignal(), CrashingSignal()], settings, model_id=None)
        report = ingest.run(list(iter_items([str(folder)])))
        assert report.indexed == 39
        assert [Path(f.source).name for f in report.failed] == ["07.png"]
        assert "crashed" in report.failed[0].message
        assert c.count() == 39


def test_the_same_id_twice_in_one_run_is_reported(engine: Engine, photos: Path) -> None:
    c = engine.create_collection("ids", signals="duplicate")
    report = c.add(
        [
            {"id": "x", "path": photos / "coffee.jpg"},
            {"id": "x", "path": photos / "rocket.jpg"},
        ]
    )
    assert report.indexed == 1 and [f.code for f in report.failed] == ["conflict"]
    assert c.get("x")["source"].endswith("coffee.jpg")


def test_example_queries_score_on_the_shared_scale(engine: Engine, photos: Path) -> None:
    c = engine.create_collection("ex", signals="duplicate")
    c.index([photos])
    copy = save_variant(photos / "chelsea.jpg", photos / "chelsea-copy.jpg", quality=50)
    c.index([copy])
    results = c.search(positive=["chelsea.jpg"], negative=["coffee.jpg"], top_k=3)
    assert results[0].id == "chelsea-copy.jpg" and results[0].score >= 0.9
    assert all(r.score < 0.6 for r in results[1:])
    assert [r.id for r in c.search(positive=["chelsea.jpg"], threshold=0.9)] == ["chelsea-copy.jpg"]


def test_a_relative_model_folder_is_pinned_by_absolute_path(
    engine: Engine, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tiny_model.parent)
    c = engine.create_collection("rel", model=tiny_model.name)
    assert c.config["model"] == str(tiny_model.resolve())
    same = engine.create_collection(
        "rel", model=str(tiny_model), exist_ok=True, signals="duplicate,semantic"
    )
    assert same is c


@pytest.mark.slow
def test_a_kept_decode_pool_serves_several_runs_and_survives_a_crash(tmp_path: Path) -> None:
    import numpy as np

    from lookalike.decode_workers import DecodePool
    from lookalike.ingest import Ingest, IngestReport
    from lookalike.signals.duplicate import DuplicateSignal
    from lookalike.sources import iter_items
    from tests.support.crashing import CRASH_WIDTH, CrashingSignal

    rng = np.random.default_rng(3)
    runs = []
    for run in range(3):
        folder = tmp_path / f"run{run}"
        folder.mkdir()
        for i in range(20):
            width = CRASH_WIDTH if (run, i) == (1, 5) else 64
            Image.fromarray(rng.integers(0, 255, (48, width, 3), dtype=np.uint8)).save(
                folder / f"{run}-{i:02d}.png"
            )
        runs.append(folder)
    settings = Settings(data_dir=tmp_path / "data", offline=True, decode_workers=2)
    pool = DecodePool(settings)
    try:
        with Engine(settings) as engine:
            c = engine.create_collection("c", signals="duplicate")
            signals = [DuplicateSignal(), CrashingSignal()]

            def ingest(folder: Path) -> IngestReport:
                run = Ingest(c.store, signals, settings, model_id=None, pool=pool)
                return run.run(list(iter_items([str(folder)])))

            assert ingest(runs[0]).indexed == 20
            first = pool.executor()
            workers = set(first._processes)  # the same worker processes serve the next run
            crashed = ingest(runs[1])
            assert crashed.indexed == 19 and [Path(f.source).name for f in crashed.failed] == [
                "1-05.png"
            ]
            replaced = pool.executor()
            assert replaced is not first and not set(replaced._processes) & workers
            assert ingest(runs[2]).indexed == 20 and pool.executor() is replaced
            assert c.count() == 59
    finally:
        pool.close()


def test_a_query_url_is_fetched_whatever_the_case_of_its_scheme(
    settings: Settings, photos: Path
) -> None:
    with Engine(settings.replace(allow_private_urls=True)) as engine, serving(photos) as base:
        c = engine.create_collection("by-url", signals="duplicate")
        c.add([{"id": "rocket", "path": str(photos / "rocket.jpg")}])
        upper = base.replace("http://", "HTTP://") + "/rocket.jpg"
        assert c.search(image=upper, top_k=1)[0].id == "rocket"
