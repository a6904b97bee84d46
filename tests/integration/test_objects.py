"""The objects signal with a real detector: NudeNet's YOLOv8 export, whose classes (faces, body
parts) are not what a shop looks for, but whose letterbox, decoding, NMS and cropping are those of
any YOLO-format detector. Portraits are planted as objects in wide scenes among distractors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from lookalike import Collection, Engine, Settings
from lookalike.errors import InvalidQuery, ModelUnavailable
from tests.support.detector import NUDENET
from tests.support.faces import FACES
from tests.support.photo_collection import indexed_collection
from tests.support.samples import photo

#: Head and shoulders of two portraits (pixels of the files in tests/data/faces).
PEOPLE = {"person_a_1": (150, 30, 400, 330), "person_b_1": (150, 80, 440, 380)}
BACKGROUNDS = ("coffee", "rocket")
SCENE = (1400, 900)
SPOTS = {"person_a_1": (100, 150), "person_b_1": (800, 300)}


def _person(name: str) -> Image.Image:
    return Image.open(FACES / f"{name}.jpg").convert("RGB").crop(PEOPLE[name])


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[float, ...]]]:
    """Each background with each person planted at its spot, each background alone, a cat:
    the planted region of each scene as fractions of the scene."""
    folder = tmp_path_factory.mktemp("scenes")
    planted: dict[str, tuple[float, ...]] = {}
    for background in BACKGROUNDS:
        photo(background).resize(SCENE).save(folder / f"{background}.jpg", quality=90)
        for name in PEOPLE:
            scene = photo(background).resize(SCENE)
            person = _person(name)
            x, y = SPOTS[name]
            scene.paste(person, (x, y))
            scene.save(folder / f"{background}-{name}.jpg", quality=90)
            w, h = SCENE
            planted[f"{background}-{name}.jpg"] = (
                x / w,
                y / h,
                (x + person.width) / w,
                (y + person.height) / h,
            )
    photo("chelsea").resize(SCENE).save(folder / "chelsea.jpg", quality=90)
    return folder, planted


@pytest.fixture(scope="module")
def coll(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, scenes: tuple[Path, dict]
) -> Iterator[Collection]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        offline=True,
        default_model=str(tiny_model),
        object_detector=str(NUDENET),
    )
    folder, _ = scenes
    with Engine(settings) as engine:
        yield indexed_collection(
            engine, "objects", [folder], expected=7, signals="semantic,objects"
        )


def test_a_planted_object_is_found_among_distractors_with_its_box(
    coll: Collection, scenes: tuple[Path, dict], tmp_path: Path
) -> None:
    _, planted = scenes
    query = _person("person_b_1")
    query = query.resize((query.width * 4 // 5, query.height * 4 // 5))  # smaller, re-encoded
    query.save(tmp_path / "query.jpg", quality=80)
    results = coll.search(image=tmp_path / "query.jpg", signal="objects", top_k=7)
    top = [r.id for r in results[:2]]
    assert sorted(top) == sorted(f"{b}-person_b_1.jpg" for b in BACKGROUNDS)
    for r in results[:2]:
        assert r.match is not None and r.match["label"].startswith("FACE")
        left, top_, right, bottom = r.match["box"]
        cx, cy = (left + right) / 2, (top_ + bottom) / 2
        pl, pt, pr, pb = planted[r.id]
        assert pl < cx < pr and pt < cy < pb, (r.id, r.match["box"], planted[r.id])
    later = [r for r in results[2:] if r.id.endswith("person_b_1.jpg")]
    assert not later and results[0].score > max((r.score for r in results[2:]), default=0.0)


def test_objects_are_stored_with_boxes_and_an_image_without_any_has_none(
    coll: Collection, scenes: tuple[Path, dict]
) -> None:
    _, planted = scenes
    for name in planted:
        objects = coll.get(name)["objects"]
        assert objects, name
        assert all(0 <= o["box"][0] < o["box"][2] <= 1 for o in objects)
        assert all(o["score"] >= coll.settings.object_min_score for o in objects)
    for name in ("coffee.jpg", "rocket.jpg", "chelsea.jpg"):
        assert coll.get(name)["objects"] == []
    ids = ["chelsea.jpg", "coffee-person_a_1.jpg"]
    stored = {p.id: p for p in coll.store.retrieve(ids, with_vectors=True)}
    assert "objects" not in stored["chelsea.jpg"].vectors
    rows = stored["coffee-person_a_1.jpg"].vectors["objects"].vectors
    assert len(rows) == len(coll.get("coffee-person_a_1.jpg")["objects"])


def test_an_id_query_searches_by_the_records_whole_image_and_examples_are_refused(
    coll: Collection,
) -> None:
    by_id = coll.search(id="chelsea.jpg", signal="objects", top_k=3)
    assert all(r.id != "chelsea.jpg" for r in by_id)
    with pytest.raises(InvalidQuery):
        coll.search(positive=["chelsea.jpg"], signal="objects")


def test_without_a_detector_the_signal_refuses_to_start(tmp_path: Path, tiny_model: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", offline=True, default_model=str(tiny_model))
    with Engine(settings) as engine, pytest.raises(ModelUnavailable, match="object_detector"):
        engine.create_collection("c", signals="semantic,objects")
    missing = settings.model_copy(update={"object_detector": str(tmp_path / "none.onnx")})
    with Engine(missing) as engine, pytest.raises(ModelUnavailable, match="not found"):
        engine.create_collection("c", signals="objects")
