"""The semantic model layer, on the tiny CLIP-shaped model built by the suite (no hub here)."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lookalike import Engine, Settings
from lookalike.errors import BadInput, ModelUnavailable
from lookalike.models import (
    MODELS,
    TextEncoder,
    download_model,
    load_image_encoder,
    load_text_encoder,
)
from tests.support.clip_onnx import build_tiny_clip, build_vit_b32_vision
from tests.support.samples import photo

VISION_REPO = "Qdrant/clip-ViT-B-32-vision"
TEXT_REPO = "Qdrant/clip-ViT-B-32-text"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model dir holding a tiny model of the default model's vector size (512) under its hub
    names: files under a known name must give that model's size."""
    root = tmp_path_factory.mktemp("model-dir")
    built = build_tiny_clip(tmp_path_factory.mktemp("built"), dim=512)
    shutil.move(built / "vision", root / VISION_REPO)
    shutil.move(built / "text", root / TEXT_REPO)
    return root


def test_files_of_another_size_under_a_known_name_are_refused(
    tmp_path: Path, settings: Settings
) -> None:
    root = tmp_path / "models"
    built = build_tiny_clip(tmp_path / "built")  # 32 numbers, not ViT-B/32's 512
    root.mkdir()
    shutil.move(built / "vision", root / VISION_REPO)
    shutil.move(built / "text", root / TEXT_REPO)
    settings = settings.replace(model_dir=root)
    for load in (load_image_encoder, load_text_encoder):
        with pytest.raises(ModelUnavailable) as caught:
            load("clip-vit-b-32", settings)
        assert "vectors of 32 numbers" in caught.value.message
        assert "clip-vit-b-32 gives 512" in caught.value.message


@pytest.fixture
def no_hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads allowed by the environment; the tests then point HF_ENDPOINT somewhere dead."""
    for name in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An HTTPS endpoint that accepts connections and never answers (a hanging hub)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield f"https://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# ---------------------------------------------------------------- image and text vectors


def test_a_new_collection_loads_its_image_tower_once(
    tiny_model: Path, settings: Settings, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating a collection loads the tower (for its vector size and model id); indexing into
    it and searching it then use that session rather than loading the model again."""
    import lookalike.signals.semantic as semantic

    loads: list[str] = []

    def counted(model: str, *args: Any, **kwargs: Any) -> Any:
        loads.append(model)
        return load_image_encoder(model, *args, **kwargs)

    monkeypatch.setattr(semantic, "load_image_encoder", counted)
    with Engine(settings) as engine:
        coll = engine.create_collection("photos", model=str(tiny_model))
        assert coll.index([photos]).indexed > 0
        first = next(p for p in sorted(photos.iterdir()) if p.suffix == ".jpg")
        assert coll.search(image=first.read_bytes(), signal="semantic", top_k=1)
        assert loads == [str(tiny_model)]
    with Engine(settings) as engine:  # a collection opened later loads it when it needs it
        engine.collection("photos").search(image=first.read_bytes(), signal="semantic", top_k=1)
        assert loads == [str(tiny_model)] * 2


def test_image_vectors_from_a_folder(tiny_model: Path, settings: Settings) -> None:
    encoder = load_image_encoder(str(tiny_model), settings)
    images = [photo("astronaut"), photo("coffee"), photo("chelsea")]

    vectors = encoder.embed(images)

    assert encoder.dim == 32
    assert vectors.shape == (3, 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.embed([]).shape == (0, 32)


def test_same_image_same_vector_different_photos_differ(
    tiny_model: Path, settings: Settings
) -> None:
    encoder = load_image_encoder(str(tiny_model), settings)
    astronaut, coffee = photo("astronaut"), photo("coffee")

    alone = encoder.embed([astronaut])[0]
    batch = encoder.embed([coffee, astronaut, coffee], batch_size=2)
    again = load_image_encoder(str(tiny_model), settings).embed([astronaut])[0]

    np.testing.assert_allclose(batch[1], alone, atol=1e-6)  # batching does not change vectors
    np.testing.assert_allclose(again, alone, atol=1e-6)  # nor does reloading
    assert cosine(alone, alone) == pytest.approx(1.0, abs=1e-6)
    assert cosine(batch[0], batch[2]) == pytest.approx(1.0, abs=1e-6)
    assert cosine(alone, batch[0]) < 0.9
    assert np.abs(alone - batch[0]).max() > 0.05


def test_resized_copy_stays_close(tiny_model: Path, settings: Settings) -> None:
    """The model's own preprocessing resizes: a smaller copy lands next to the original."""
    encoder = load_image_encoder(str(tiny_model), settings)
    original = photo("astronaut")
    smaller = original.resize((300, 300))

    a, b, other = encoder.embed([original, smaller, photo("rocket")])

    assert cosine(a, b) > 0.98
    assert cosine(a, b) > cosine(a, other) + 0.2


def test_text_vectors(tiny_model: Path, settings: Settings) -> None:
    encoder = load_text_encoder(str(tiny_model), settings)

    vectors = encoder.embed(["a photo of a cat", "An astronaut in a white suit"])
    again = encoder.embed(["A PHOTO of a cat"])  # the tokenizer lower-cases, like CLIP's

    assert vectors.shape == (2, 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(again[0], vectors[0], atol=1e-6)
    assert cosine(vectors[0], vectors[1]) < 0.99
    assert encoder.embed([]).shape == (0, 32)


class _Fed:
    """Stands in for a text tower's ONNX Runtime session, keeping the shape of each input fed."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.shapes: list[tuple[int, ...]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)

    def run(self, names: Any, feed: dict[str, np.ndarray]) -> Any:
        self.shapes.append(tuple(feed["input_ids"].shape))
        return self.session.run(names, feed)


def _watched(encoder: TextEncoder) -> _Fed:
    inner = encoder._embedding.model  # fastembed's TextEmbedding → model → ORT session
    fed = _Fed(inner.model)
    inner.model = fed
    return fed


def test_text_queries_feed_their_own_tokens_only(tiny_model: Path, settings: Settings) -> None:
    """A text of a few tokens runs the tower on those, not on 77; padding to 77 (trim off)
    gives the same vector, since the tower pools under its attention mask."""
    texts = ["a cat", "a photo of a dog on a red sofa"]
    trimmed = load_text_encoder(str(tiny_model), settings)
    padded = load_text_encoder(str(tiny_model), settings, trim=False)
    fed_trimmed, fed_padded = _watched(trimmed), _watched(padded)

    one = np.vstack([trimmed.embed([t]) for t in texts])
    both = trimmed.embed(texts)

    assert trimmed.padded_to is None and padded.padded_to == 77
    short, long = (len(trimmed._embedding.model.tokenizer.encode(t).ids) for t in texts)
    assert short < long < 77
    assert fed_trimmed.shapes == [(1, short), (1, long), (2, long)]
    np.testing.assert_allclose(padded.embed(texts), one, atol=1e-6)
    assert fed_padded.shapes == [(2, 77)]
    np.testing.assert_allclose(both, one, atol=1e-6)


def test_a_text_graph_of_fixed_length_is_padded_to_it(
    tiny_model: Path, settings: Settings, tmp_path: Path
) -> None:
    import onnx

    fixed = tmp_path / "fixed"
    shutil.copytree(tiny_model, fixed)
    graph = onnx.load(str(fixed / "text" / "model.onnx"))
    for name in ("input_ids", "attention_mask"):
        entry = next(i for i in graph.graph.input if i.name == name)
        entry.type.tensor_type.shape.dim[1].dim_value = 77
    onnx.save(graph, str(fixed / "text" / "model.onnx"))
    encoder = load_text_encoder(str(fixed), settings)  # trims by default, but cannot here
    fed = _watched(encoder)

    got = encoder.embed(["a cat"])

    assert encoder.padded_to == 77 and fed.shapes == [(1, 77)]
    np.testing.assert_allclose(got, load_text_encoder(str(tiny_model), settings).embed(["a cat"]))


def test_which_known_models_trim_their_text_queries() -> None:
    """SigLIP 2 pools at the last of 64 positions, so its texts keep their padding; the others
    pool at the end token of a causal tower (CLIP) or under the attention mask."""
    trims = {name: spec.text_trim for name, spec in MODELS.items()}
    assert trims == {
        "clip-vit-b-32": True,
        "siglip2-base-patch16-224": False,
        "jina-clip-v1": True,
        "nomic-embed-v1.5": True,
    }


def test_image_tower_threads_reach_onnx_runtime_and_never_spin(
    tiny_model: Path, settings: Settings
) -> None:
    """Image-tower threads sleep while they wait: spinning holds cores id and text searches need."""
    one = load_image_encoder(str(tiny_model), settings, threads=1)
    default = load_image_encoder(str(tiny_model), settings)

    for encoder, threads in ((one, 1), (default, 0)):
        # fastembed's ImageEmbedding → model → ORT session
        options = encoder._embedding.model.model.get_session_options()
        assert options.intra_op_num_threads == threads
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    image = photo("chelsea")
    np.testing.assert_allclose(one.embed([image]), default.embed([image]), atol=1e-5)


def test_text_tower_threads_reach_onnx_runtime_and_never_spin(
    tiny_model: Path, settings: Settings
) -> None:
    """A text query's threads sleep while they wait: spinning holds a core other queries need."""
    one = load_text_encoder(str(tiny_model), settings, threads=1)
    default = load_text_encoder(str(tiny_model), settings)

    for encoder, threads in ((one, 1), (default, 0)):
        options = encoder._embedding.model.model.get_session_options()
        assert options.intra_op_num_threads == threads
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    np.testing.assert_allclose(one.embed(["a cat"]), default.embed(["a cat"]), atol=1e-6)


# ---------------------------------------------------------------- identity


def test_folder_model_id_is_stable_and_tells_folders_apart(
    tiny_model: Path, settings: Settings, tmp_path: Path
) -> None:
    other = build_tiny_clip(tmp_path / "other", seed=1)
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)

    first = load_image_encoder(str(tiny_model), settings).model_id
    second = load_image_encoder(str(tiny_model), settings).model_id
    text = load_text_encoder(str(tiny_model), settings).model_id

    assert first == second == text
    assert first.startswith(f"folder:{tiny_model.resolve()}#")
    assert load_image_encoder(str(other), settings).model_id != first
    copied = load_image_encoder(str(copy), settings).model_id
    assert copied != first
    assert copied.split("#")[1] == first.split("#")[1]  # same weights, same hash


def test_known_name_found_in_model_dir(model_dir: Path, tmp_path: Path, settings: Settings) -> None:
    settings = settings.replace(model_dir=model_dir)
    image, text = photo("astronaut"), ["a photo of a cat"]

    by_name = load_image_encoder("clip-vit-b-32", settings)
    by_hub_name = load_image_encoder("qdrant/CLIP-vit-b-32-VISION", settings)
    text_encoder = load_text_encoder("Qdrant/clip-ViT-B-32-text", settings)

    assert by_name.model_id == by_hub_name.model_id == text_encoder.model_id == "clip-vit-b-32"
    assert by_name.dim == text_encoder.dim == 512
    # the same weights through the folder path and through the name lookup: the same vectors
    same = build_tiny_clip(tmp_path / "same", dim=512)  # the fixture's seed: the same weights
    folder = load_image_encoder(str(same), settings)
    np.testing.assert_allclose(by_name.embed([image]), folder.embed([image]), atol=1e-6)
    np.testing.assert_allclose(
        text_encoder.embed(text), load_text_encoder(str(same), settings).embed(text)
    )
    assert not (settings.data_dir / "models").exists()  # nothing was fetched or cached


def test_known_name_found_in_fastembed_cache(tmp_path: Path, settings: Settings) -> None:
    """Files fastembed downloaded earlier (hub cache layout in <data_dir>/models) are used."""
    built = build_tiny_clip(tmp_path / "built", dim=512)
    for part, repo in (("vision", VISION_REPO), ("text", TEXT_REPO)):
        cached = settings.data_dir / "models" / f"models--{repo.replace('/', '--')}"
        shutil.copytree(built / part, cached / "snapshots" / "0123abcd")
        (cached / "refs").mkdir()
        (cached / "refs" / "main").write_text("0123abcd")

    image_encoder = load_image_encoder("clip-vit-b-32", settings)  # offline: cache only
    text_encoder = load_text_encoder("clip-vit-b-32", settings)

    assert image_encoder.model_id == text_encoder.model_id == "clip-vit-b-32"
    assert image_encoder.embed([photo("coffee")]).shape == (1, 512)
    assert text_encoder.embed(["a cup of coffee"]).shape == (1, 512)


def test_known_models_are_pairs_fastembed_runs() -> None:
    from fastembed import ImageEmbedding, TextEmbedding

    images = {m["model"].lower(): m["dim"] for m in ImageEmbedding.list_supported_models()}
    texts = {m["model"].lower(): m["dim"] for m in TextEmbedding.list_supported_models()}
    assert "clip-vit-b-32" in MODELS
    for spec in MODELS.values():
        assert spec.text is not None
        assert images[spec.vision.lower()] == spec.dim
        assert texts[spec.text.lower()] == spec.dim


# ---------------------------------------------------------------- missing models


def assert_names_everything(exc: ModelUnavailable, settings: Settings) -> None:
    message = str(exc)
    assert settings.model_dir is not None
    assert "'clip-vit-b-32'" in message
    assert str(settings.model_dir / VISION_REPO) in message
    assert str(settings.data_dir / "models") in message
    assert "lookalike models download clip-vit-b-32" in message
    assert "LOOKALIKE_MODEL_DIR" in message
    assert exc.detail["looked_in"][0] == str(settings.model_dir / VISION_REPO)


def test_missing_model_offline_fails_fast_and_says_what_to_do(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.replace(model_dir=tmp_path / "empty", offline=True)
    started = time.monotonic()

    with pytest.raises(ModelUnavailable) as info:
        load_image_encoder("clip-vit-b-32", settings)

    assert time.monotonic() - started < 5
    assert_names_everything(info.value, settings)
    assert "offline" in str(info.value)


def test_missing_model_online_fails_fast_when_the_hub_refuses(
    settings: Settings, tmp_path: Path, no_hub_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connections are refused
    monkeypatch.setenv("HF_ENDPOINT", f"https://127.0.0.1:{port}")
    settings = settings.replace(model_dir=tmp_path / "empty", offline=False)
    started = time.monotonic()

    with pytest.raises(ModelUnavailable) as info:
        load_image_encoder("clip-vit-b-32", settings)

    assert time.monotonic() - started < 5
    assert_names_everything(info.value, settings)
    assert "unreachable" in str(info.value)


def test_missing_model_online_fails_fast_when_the_hub_hangs(
    settings: Settings,
    tmp_path: Path,
    no_hub_env: None,
    silent_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", silent_endpoint)
    settings = settings.replace(model_dir=tmp_path / "empty", offline=False)
    started = time.monotonic()

    with pytest.raises(ModelUnavailable) as info:
        load_text_encoder("clip-vit-b-32", settings)

    assert time.monotonic() - started < 5
    assert "unreachable" in str(info.value)
    assert TEXT_REPO in str(info.value)


def test_hf_hub_offline_blocks_downloads(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = settings.replace(model_dir=tmp_path / "empty", offline=False)

    with pytest.raises(ModelUnavailable, match="HF_HUB_OFFLINE"):
        load_image_encoder("clip-vit-b-32", settings)
    with pytest.raises(ModelUnavailable, match="HF_HUB_OFFLINE"):
        download_model("clip-vit-b-32", settings)


def test_download_refuses_offline_and_unknown_names(settings: Settings) -> None:
    with pytest.raises(ModelUnavailable, match="offline"):
        download_model("clip-vit-b-32", settings.replace(offline=True))
    with pytest.raises(BadInput, match="not a known model"):  # the caller's typo: exit 2
        download_model("no-such-model", settings)


def test_unknown_name_or_missing_folder(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="clip-vit-b-32") as info:
        load_image_encoder(str(tmp_path / "nowhere"), settings)
    assert str(tmp_path / "nowhere") in str(info.value)


def test_vision_only_folder_has_no_text(
    tiny_model: Path, settings: Settings, tmp_path: Path
) -> None:
    flat = tmp_path / "vision-only"
    shutil.copytree(tiny_model / "vision", flat)

    encoder = load_image_encoder(str(flat), settings)
    assert encoder.embed([photo("coffee")]).shape == (1, 32)
    with pytest.raises(ModelUnavailable, match="no text part") as info:
        load_text_encoder(str(flat), settings)
    assert str(flat) in str(info.value)


def test_incomplete_folder_names_the_missing_file(
    tiny_model: Path, settings: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "text" / "tokenizer.json").unlink()

    load_image_encoder(str(broken), settings)  # the vision part is whole
    with pytest.raises(ModelUnavailable, match="tokenizer.json"):
        load_text_encoder(str(broken), settings)


def test_unreadable_model_file_is_model_unavailable(
    tiny_model: Path, settings: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "garbage"
    shutil.copytree(tiny_model, broken)
    (broken / "vision" / "model.onnx").write_bytes(b"not an onnx graph")

    with pytest.raises(ModelUnavailable, match="vision tower"):
        load_image_encoder(str(broken), settings)


# ---------------------------------------------------------------- full-size tower


@pytest.mark.slow
def test_full_size_vit_b32_tower_loads_like_the_real_one(
    tmp_path: Path, settings: Settings
) -> None:
    folder = build_vit_b32_vision(tmp_path / "vit")

    encoder = load_image_encoder(str(folder), settings, threads=2)
    vectors = encoder.embed([photo("astronaut"), photo("coffee")])

    assert (folder / "vision" / "model.onnx").stat().st_size > 340_000_000  # ~88M fp32 weights
    assert encoder.dim == 512
    assert vectors.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ModelUnavailable, match="no text part"):
        load_text_encoder(str(folder), settings)
