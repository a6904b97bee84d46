"""Where the semantic tower's input comes from, per collection: a collection made now resizes it
straight from the decoded pixels (``direct``), one made before from the image shared with the
copy signal (``shared``, as schema version 3 records it on opening one). Either way an indexed photo
queried by its own bytes meets its own vector (score 1), so a collection keeps the way its
records were made; a semantic query in a ``direct`` collection decodes nothing larger, and
leaves out the copy signal's hash score unless asked for. Camera-size JPEGs (about 2500 px), so
that the reduced-scale decode and both resizes are what a real photo goes through."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike import Engine, Settings
from lookalike.images import decode, encode_thumbnail
from tests.support.samples import PHOTO_NAMES, photo

SELF = 1 - 1e-6
"""A query meeting its own record's vector (float32 rounding apart)."""


@pytest.fixture(scope="module")
def camera_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("camera-photos")
    for name in PHOTO_NAMES[:5]:
        im = photo(name)
        im = im.resize((im.width * 5, im.height * 5), Image.Resampling.BICUBIC)
        im.save(folder / f"{name}.jpg", "JPEG", quality=90)
    return folder


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[Engine]:
    """Two collections of the same photos: ``now`` made as lookalike makes them, ``before`` as
    it made them before the semantic input was recorded (``shared``, as opening one records)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("input") / "data", offline=True)
    with Engine(settings) as e:
        e.create_collection("now", signals="semantic,duplicate", model=str(tiny_model))
        before = e.create_collection("before", signals="semantic,duplicate", model=str(tiny_model))
        before.store.update_config({"semantic_input": "shared"})
    with Engine(settings) as e:  # opened again: "before" is read as a collection made before
        yield e


@pytest.fixture(scope="module")
def indexed(engine: Engine, camera_photos: Path) -> list[Path]:
    paths = sorted(camera_photos.glob("*.jpg"))
    for name in ("now", "before"):
        assert engine.collection(name).index([camera_photos]).indexed == len(paths)
    return paths


def _vectors(engine: Engine, name: str, paths: list[Path]) -> np.ndarray:
    store = engine.collection(name).store
    points = {p.id: p for p in store.retrieve([p.name for p in paths], with_vectors=True)}
    return np.array([points[p.name].vectors["semantic"] for p in paths], dtype=np.float64)


def test_a_new_collection_records_direct_input_and_one_made_before_keeps_shared(
    engine: Engine, indexed: list[Path]
) -> None:
    assert engine.collection("now").config["semantic_input"] == "direct"
    assert engine.collection("now").semantic_input == "direct"
    assert engine.collection("before").config["semantic_input"] == "shared"
    assert engine.collection("before").semantic_input == "shared"
    now, before = _vectors(engine, "now", indexed), _vectors(engine, "before", indexed)
    cosines = (now * before).sum(axis=1)
    assert (cosines < SELF).all(), cosines  # other pixels: not the same vectors ...
    assert (cosines > 0.99).all(), cosines  # ... but the same picture


def test_the_direct_input_is_one_resize_of_the_reduced_decode(
    engine: Engine, indexed: list[Path]
) -> None:
    """The stored vector is the tower's on the image resized once, straight to 224 px."""
    semantic = next(s for s in engine.collection("now").signals if s.name == "semantic")
    for path, stored in zip(indexed, _vectors(engine, "now", indexed), strict=True):
        decoded = decode(path.read_bytes(), min_side=512, direct=(224,))
        once = semantic.encoder.embed([decoded.direct[224]])[0]
        twice = semantic.encoder.embed([decoded.image])[0]
        assert float(once @ stored) >= SELF
        assert float(twice @ stored) < SELF


@pytest.mark.parametrize("name", ["now", "before"])
def test_an_indexed_photo_finds_itself_at_1_in_either_collection(
    engine: Engine, indexed: list[Path], name: str
) -> None:
    coll = engine.collection(name)
    for path in indexed:
        semantic = coll.search(image=path, top_k=3)
        assert semantic[0].id == path.name and semantic[0].scores["semantic"] >= SELF
        copy = coll.search(image=path, signal="duplicate", top_k=1)
        assert copy[0].id == path.name and copy[0].scores["semantic"] >= SELF
        by_region = coll.search(image=path, region=(0.0, 0.0, 1.0, 1.0), top_k=1)
        assert by_region[0].id == path.name


def test_a_semantic_query_scores_the_hash_only_where_it_decoded_the_shared_image(
    engine: Engine, indexed: list[Path]
) -> None:
    query = indexed[0]
    now = engine.collection("now").search(image=query, top_k=5)
    assert all(set(r.scores) == {"semantic"} for r in now)  # no 512 px image decoded for it
    asked = engine.collection("now").search(image=query, top_k=5, scores=["duplicate"])
    assert [(r.id, r.score) for r in asked] == [(r.id, r.score) for r in now]
    assert all(set(r.scores) == {"semantic", "duplicate"} for r in asked)
    assert asked[0].scores["duplicate"] == 1.0
    before = engine.collection("before").search(image=query, top_k=5)
    assert all(set(r.scores) == {"semantic", "duplicate"} for r in before)
    assert [r.scores["duplicate"] for r in before] == [r.scores["duplicate"] for r in asked]


def test_a_thumbnail_is_shrunk_from_the_direct_copy_when_it_covers_it(
    engine: Engine, indexed: list[Path], tiny_model: Path
) -> None:
    """The direct copy (224 px on the shorter edge) is the cheaper source of a 256 px
    thumbnail where its longer edge reaches 256 px; a square photo's does not, and the
    shared image is shrunk instead. A backfill makes the bytes ingest made."""
    coll = engine.collection("now")
    by_name = {p.stem: p for p in indexed}
    for name, source in (("coffee", "direct"), ("astronaut", "shared")):
        decoded = decode(by_name[name].read_bytes(), min_side=512, direct=(224,))
        image = decoded.direct[224] if source == "direct" else decoded.image
        thumbnail = coll.thumbnail(f"{name}.jpg")
        assert thumbnail == encode_thumbnail(image, 256), name
        assert max(Image.open(io.BytesIO(thumbnail)).size) == 256
    late = engine.create_collection(
        "late", signals="semantic,duplicate", model=str(tiny_model), thumbnails=False
    )
    late.index(indexed)
    assert late.make_thumbnails().made == len(indexed)
    for path in indexed:
        assert late.thumbnail(path.name) == coll.thumbnail(path.name), path.name
