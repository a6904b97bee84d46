"""The semantic signal's fp32 vectors are CLIP's: with the same weights, transformers'
CLIPImageProcessor and CLIPModel (the reference pipeline) and an ingest through lookalike give
the same vector for each photo, however lookalike decodes it on the way.

Random weights point every image nearly the same way (raw cosines all near 1, whatever the
photo), so the vectors are compared after centring: the mean vector of the set is taken out on
each side, leaving what tells the photos apart. The tolerance, a centred cosine of at least 0.99
for each photo, holds the reduced-scale JPEG decode that ingest uses (1/2 to 1/8 DCT scale, then
a bicubic resize: pixels within a grey level or two of a full decode and resize; 0.997 was the
lowest measured) while two different photos of the set reach at most about 0.9, so a decode that
changed what a vector means fails it; and each photo's vector must be nearest to its own
reference vector.

Text queries too: lookalike feeds a text's own tokens only (no padding to 77), and CLIP's
causal text tower, pooled at the end token, gives transformers' vector for the text padded to 77.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import CLIPModel, CLIPProcessor

from lookalike import Engine, Settings
from lookalike.models import load_text_encoder
from tests.support.clip_torch import TINY, ReferenceClip, build_reference_clip, export_text_tower
from tests.support.samples import PHOTO_NAMES, photo

pytestmark = pytest.mark.slow

MIN_CENTRED_COSINE = 0.99


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> ReferenceClip:
    return build_reference_clip(tmp_path_factory.mktemp("reference-clip"), TINY)


@pytest.fixture(scope="module")
def camera_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample photos at 4x their size (about 2000 px wide): large enough that ingest
    decodes them at a reduced DCT scale, as it does camera photos."""
    folder = tmp_path_factory.mktemp("camera-photos")
    for name in PHOTO_NAMES:
        im = photo(name)
        im = im.resize((im.width * 4, im.height * 4), Image.Resampling.BICUBIC)
        im.save(folder / f"{name}.jpg", "JPEG", quality=90)
    return folder


def _unit(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def _centred(rows: np.ndarray) -> np.ndarray:
    return _unit(rows - rows.mean(axis=0))


def _reference_vectors(reference: ReferenceClip, paths: list[Path]) -> np.ndarray:
    """The seed script's pipeline: full decode, CLIPProcessor, get_image_features, L2 norm."""
    model = CLIPModel.from_pretrained(str(reference.hf)).eval()
    processor = CLIPProcessor.from_pretrained(str(reference.hf))
    rows = []
    for path in paths:
        image = Image.open(path).convert("RGB")
        with torch.no_grad():
            features = model.get_image_features(**processor(images=image, return_tensors="pt"))
        rows.append(getattr(features, "pooler_output", features).numpy().ravel())
    return _unit(np.array(rows, dtype=np.float64))


@pytest.mark.parametrize(
    ("signals", "made_before"),
    [("semantic", False), ("semantic,duplicate", False), ("semantic,duplicate", True)],
    ids=["semantic", "with-copy-signal", "with-copy-signal-made-before"],
)
def test_ingested_vectors_equal_the_reference_clip_pipeline(
    reference: ReferenceClip, camera_photos: Path, tmp_path: Path, signals: str, made_before: bool
) -> None:
    """Alone, the semantic signal's image is decoded for it; beside the copy signal, its input
    is resized straight from the reduced decode (or, in a collection made before that, from the
    copy signal's 512 px image): every way is CLIP's vector."""
    paths = sorted(camera_photos.glob("*.jpg"))
    expected = _reference_vectors(reference, paths)
    settings = Settings(data_dir=tmp_path / "data", offline=True)
    with Engine(settings) as engine:
        made = engine.create_collection("ref", signals=signals, model=str(reference.onnx))
        if made_before:
            made.store.update_config({"semantic_input": "shared"})
    with Engine(settings) as engine:
        coll = engine.collection("ref")
        assert coll.semantic_input == ("shared" if made_before else "direct")
        report = coll.index([camera_photos])
        assert report.indexed == len(paths) and not report.failed
        stored = {p.id: p for p in coll.store.retrieve([p.name for p in paths], with_vectors=True)}
    got = np.array([stored[p.name].vectors["semantic"] for p in paths], dtype=np.float64)

    assert got.shape == expected.shape
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    centred_got, centred_expected = _centred(got), _centred(expected)
    cosines = (centred_got * centred_expected).sum(axis=1)
    names = [p.name for p in paths]
    assert cosines.min() >= MIN_CENTRED_COSINE, dict(zip(names, cosines.round(4), strict=True))
    # the check can tell photos apart: every photo is nearest to its own reference vector,
    # and the photos' own centred vectors are far from one another
    cross = centred_got @ centred_expected.T
    assert list(cross.argmax(axis=1)) == list(range(len(paths)))
    others = cross[~np.eye(len(paths), dtype=bool)]
    assert others.max() < MIN_CENTRED_COSINE - 0.05


TEXTS = ["a cat", "a photo of a dog on a red sofa", "Two people walking along a beach", "x"]


def test_unpadded_text_vectors_equal_the_reference_clip_padded_to_77(
    reference: ReferenceClip, tmp_path: Path
) -> None:
    export_text_tower(reference)
    settings = Settings(data_dir=tmp_path / "data", offline=True)
    trimmed = load_text_encoder(str(reference.onnx), settings)
    padded = load_text_encoder(str(reference.onnx), settings, trim=False)
    model = CLIPModel.from_pretrained(str(reference.hf)).eval()
    processor = CLIPProcessor.from_pretrained(str(reference.hf))
    inputs = processor(text=TEXTS, padding="max_length", max_length=77, return_tensors="pt")
    with torch.no_grad():
        features = model.get_text_features(**inputs)
    expected = _unit(getattr(features, "pooler_output", features).numpy().astype(np.float64))

    one_by_one = np.vstack([trimmed.embed([text]) for text in TEXTS])  # each its own tokens

    assert inputs["input_ids"].shape == (len(TEXTS), 77)
    assert trimmed.padded_to is None and padded.padded_to == 77
    np.testing.assert_allclose(one_by_one, expected, atol=1e-5)
    np.testing.assert_allclose(trimmed.embed(TEXTS), expected, atol=1e-5)  # to the longest
    np.testing.assert_allclose(padded.embed(TEXTS), expected, atol=1e-5)
    # the check can tell texts apart: their centred vectors are far from one another
    centred = _centred(expected)
    others = (centred @ centred.T)[~np.eye(len(TEXTS), dtype=bool)]
    assert others.max() < 0.9
