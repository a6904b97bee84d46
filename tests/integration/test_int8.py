"""int8 precision: the tiny CLIP-shaped model quantized for real, cached beside the model and
reused, and never mixed with fp32 vectors."""

from __future__ import annotations

import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from PIL import Image

from lookalike import Engine, Settings
from lookalike.client import Client
from lookalike.distributed.worker import SignalWorker
from lookalike.errors import BadInput, MissingExtra, ModelMismatch
from lookalike.models import int8 as int8_module
from lookalike.models.clip import load_image_encoder, load_text_encoder
from lookalike.signals.semantic import SemanticSignal
from tests.support.clip_onnx import build_tiny_clip
from tests.support.detector import NUDENET
from tests.support.server import IN_PROCESS, in_process

QUANTIZED_OPS = {"MatMulInteger", "DynamicQuantizeLinear", "DynamicQuantizeMatMul"}


@pytest.fixture
def model(tmp_path: Path, tiny_model: Path) -> Path:
    """A private copy of the tiny model: int8 copies are written beside it."""
    folder = tmp_path / "tiny-clip"
    shutil.copytree(tiny_model, folder)
    return folder


@pytest.fixture
def quantized(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every graph quantized from now on, in order."""
    made: list[Path] = []
    real = int8_module._quantize

    def counting(source: Path, target: Path) -> None:
        made.append(source)
        real(source, target)

    monkeypatch.setattr(int8_module, "_quantize", counting)
    return made


def _images(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)) for _ in range(n)]


def _ops_and_int8_weights(path: Path) -> tuple[set[str], int]:
    graph = onnx.load(str(path)).graph
    int8_weights = sum(1 for t in graph.initializer if t.data_type == onnx.TensorProto.INT8)
    return {n.op_type for n in graph.node}, int8_weights


def test_both_towers_are_quantized_for_real(model: Path, settings: Settings) -> None:
    fp32 = load_image_encoder(str(model), settings)
    int8 = load_image_encoder(str(model), settings, precision="int8")
    assert int8.model_id == fp32.model_id + "@int8"
    assert int8.dim == fp32.dim
    t32 = load_text_encoder(str(model), settings)
    t8 = load_text_encoder(str(model), settings, precision="int8")
    assert t8.model_id == int8.model_id

    for part in ("vision", "text"):
        copy = model / part / "int8" / "model" / "model.onnx"
        ops, int8_weights = _ops_and_int8_weights(copy)
        assert ops & QUANTIZED_OPS, ops
        assert int8_weights > 0
        original_ops, original_int8 = _ops_and_int8_weights(model / part / "model.onnx")
        assert not original_ops & QUANTIZED_OPS and original_int8 == 0  # the original untouched

    images = _images(6)
    a, b = fp32.embed(images), int8.embed(images)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() > 0.9  # close to the fp32 vectors...
    assert not np.allclose(a, b, atol=1e-6)  # ...but computed by another graph

    texts = ["a cat", "the dog and the cat", "something else"]
    assert (t32.embed(texts) * t8.embed(texts)).sum(axis=1).min() > 0.9


def test_the_copy_is_made_once_and_reused(
    model: Path, settings: Settings, quantized: list[Path]
) -> None:
    first = load_image_encoder(str(model), settings, precision="int8").embed(_images(2))
    assert quantized == [model / "vision" / "model.onnx"]
    made = model / "vision" / "int8" / "model" / "model.onnx"
    stamp = made.stat().st_mtime_ns

    again = load_image_encoder(str(model), settings, precision="int8").embed(_images(2))
    assert len(quantized) == 1  # the second open reads the cached copy
    assert made.stat().st_mtime_ns == stamp
    assert np.array_equal(first, again)


def test_a_changed_model_is_quantized_again(
    model: Path, settings: Settings, quantized: list[Path], tmp_path: Path
) -> None:
    before = load_image_encoder(str(model), settings, precision="int8")
    other = build_tiny_clip(tmp_path / "other", seed=7)
    shutil.copyfile(other / "vision" / "model.onnx", model / "vision" / "model.onnx")
    after = load_image_encoder(str(model), settings, precision="int8")
    assert len(quantized) == 2
    assert after.model_id != before.model_id
    fp32 = load_image_encoder(str(model), settings).embed(_images(3))
    assert (fp32 * after.embed(_images(3))).sum(axis=1).min() > 0.9  # the new weights' copy


def test_an_unwritable_model_folder_falls_back_to_the_data_dir(
    model: Path, settings: Settings
) -> None:
    (model / "vision" / "int8").write_text("in the way")  # the copy cannot be made there
    encoder = load_image_encoder(str(model), settings, precision="int8")
    copies = list((settings.data_dir / "models" / "int8").glob("*-model/model.onnx"))
    assert len(copies) == 1
    assert encoder.embed(_images(1)).shape == (1, encoder.dim)
    again = load_image_encoder(str(model), settings, precision="int8")
    assert again.model_id == encoder.model_id


def test_two_openers_at_once_make_one_copy(
    model: Path, settings: Settings, quantized: list[Path]
) -> None:
    start = threading.Barrier(3)
    ids: list[str] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            ids.append(load_image_encoder(str(model), settings, precision="int8").model_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(ids)) == 1 and len(ids) == 3
    assert len(quantized) == 1
    leftovers = [p.name for p in (model / "vision" / "int8").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_an_int8_collection_indexes_and_searches(
    model: Path, settings: Settings, photos: Path
) -> None:
    with Engine(settings) as engine:
        coll = engine.create_collection("q", model=str(model), precision="int8")
        info = coll.info()
        assert info["precision"] == "int8" and info["model_id"].endswith("@int8")
        report = coll.index([photos])
        assert report.indexed == len(list(photos.iterdir())) and not report.failed
        any_id = coll.list_records(limit=1)[0][0]["id"]
        record = coll.get(any_id)
        assert record["model"] == info["model_id"]
        source = Path(record["source"])

        hits = coll.search(image=source, signal="semantic", top_k=3)
        assert hits[0].id == any_id and hits[0].score > 0.99
        assert coll.search(text="a cat", top_k=3)
        assert coll.search(id=any_id, top_k=3)  # its stored vector against the others

    with Engine(settings) as engine:  # reopened: still int8, same model id
        again = engine.collection("q")
        assert again.precision == "int8"
        assert again.search(image=source, signal="semantic", top_k=1)[0].id == any_id


def test_precision_is_checked_and_needs_the_semantic_signal(
    model: Path, settings: Settings
) -> None:
    with Engine(settings) as engine:
        with pytest.raises(BadInput, match="precision"):
            engine.create_collection("a", model=str(model), precision="int4")  # type: ignore[arg-type]
        with pytest.raises(BadInput, match="semantic"):
            engine.create_collection("b", signals="duplicate", precision="int8")
        hashes = engine.create_collection("c", signals="duplicate")
        assert hashes.info()["precision"] is None


def test_the_default_precision_setting_makes_int8_collections(
    model: Path, settings: Settings
) -> None:
    with Engine(settings.replace(default_precision="int8")) as engine:
        coll = engine.create_collection("d", model=str(model))
        assert coll.precision == "int8" and coll.info()["model_id"].endswith("@int8")
        hashes = engine.create_collection("e", signals="duplicate")  # no model, no precision
        assert hashes.info()["precision"] is None


@pytest.mark.parametrize(("made", "asked"), [("fp32", "int8"), ("int8", "fp32")])
def test_vectors_of_the_other_precision_are_refused(
    model: Path, settings: Settings, photos: Path, made: Any, asked: Any
) -> None:
    with Engine(settings) as engine:
        engine.create_collection("m", model=str(model), precision=made)
        with pytest.raises(ModelMismatch, match=f"not {asked}") as refused:
            engine.create_collection("m", exist_ok=True, precision=asked)
        assert refused.value.code == "model_mismatch" and refused.value.status == 409
        same = engine.create_collection("m", exist_ok=True, precision=made)
        same.index([photos])

    # The configuration says one precision, the vectors were made with the other: whatever
    # builds the collection's signals from it now embeds with the other tower, and is refused.
    with Engine(settings) as engine:
        engine.collection("m").store.update_config({"precision": asked})
    with Engine(settings) as engine:
        coll = engine.collection("m")
        with pytest.raises(ModelMismatch, match="indexed with"):
            coll.search(text="a cat")
        with pytest.raises(ModelMismatch):
            coll.add([{"id": "new", "path": str(next(photos.iterdir()))}])


def test_a_text_tower_of_the_other_precision_is_refused(model: Path, settings: Settings) -> None:
    signal = SemanticSignal(str(model), settings, precision="int8")
    signal.__dict__["text_encoder"] = load_text_encoder(str(model), settings)  # an fp32 one
    with pytest.raises(ModelMismatch, match="cannot be compared"):
        signal.embed_text("a cat")


def test_cluster_workers_build_the_collections_precision(model: Path, settings: Settings) -> None:
    with Engine(settings) as engine:
        coll = engine.create_collection("r", model=str(model), precision="int8")
        worker = SignalWorker(*coll.signal_recipe())
        (semantic,) = [s for s in worker.signals if s.name == "semantic"]
        assert semantic.model_id == coll.config["model_id"]


def test_rest_collection_creation_takes_a_precision(model: Path, settings: Settings) -> None:
    server = settings.replace(default_model=str(model), decode_workers=1)
    with in_process(server) as api:
        r = api.post("/collections", json={"name": "q8", "precision": "int8"})
        assert r.status_code == 201, r.text
        assert r.json()["precision"] == "int8" and r.json()["model_id"].endswith("@int8")
        r = api.post("/collections", json={"name": "q32"})
        assert r.status_code == 201 and r.json()["precision"] == "fp32"
        r = api.post("/collections", json={"name": "bad", "precision": "int4"})
        assert r.status_code == 422

        with Client(IN_PROCESS, http=api.another()) as sdk:
            assert sdk.create_collection("q8", exist_ok=True, precision="int8").config["precision"]
            with pytest.raises(ModelMismatch, match="not int8"):
                sdk.create_collection("q32", exist_ok=True, precision="int8")
            with pytest.raises(ModelMismatch, match="not fp32"):
                sdk.create_collection("q8", exist_ok=True, precision="fp32")


def test_without_the_quantizer_the_extra_is_named(
    model: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)  # as if not installed
    with pytest.raises(MissingExtra, match=r"lookalike\[int8\]"):
        load_image_encoder(str(model), settings, precision="int8")
    assert not (model / "vision" / "int8" / "model").exists()  # no half-made copy left


def test_the_objects_signal_embeds_at_the_collections_precision(
    model: Path, settings: Settings
) -> None:
    with Engine(settings.replace(object_detector=str(NUDENET))) as engine:
        coll = engine.create_collection(
            "o", signals="semantic,objects", model=str(model), precision="int8"
        )
        semantic, objects = coll.signals
        assert objects.model_id.startswith(semantic.model_id + "+")
        assert semantic.model_id.endswith("@int8")
