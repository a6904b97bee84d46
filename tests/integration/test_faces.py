"""The faces signal on real portraits: detection, face search, people; real dlib, real store.

Person A has three different photos, person B one (and a face in the group photo), person C is
scikit-image's astronaut (alone, and beside B in the group photo).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike import Collection, Engine, Settings
from lookalike.errors import BadInput, Conflict, InvalidQuery, MissingExtra, NotFound
from lookalike.images import decode
from lookalike.signals.faces import CALIBRATION, SAME_PERSON_SCORE, FacePreparer
from tests.support.faces import FACES, face_folder
from tests.support.photo_collection import indexed_collection

INDEXED = ("person_a_1", "person_a_2", "person_b_1", "astronaut", "group", "chelsea", "coffee")
PERSON = {"person_a_1": "A", "person_a_2": "A", "person_a_3": "A", "person_b_1": "B"}
PERSON["astronaut"] = "C"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return face_folder(tmp_path_factory.mktemp("faces"), (*INDEXED, "person_a_3"))


@pytest.fixture(scope="module")
def coll(tmp_path_factory: pytest.TempPathFactory, folder: Path) -> Iterator[Collection]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), offline=True)
    with Engine(settings) as engine:
        sources = [folder / f"{n}.jpg" for n in INDEXED]
        yield indexed_collection(engine, "faces", sources, expected=len(INDEXED), signals="faces")


def test_every_face_is_stored_with_its_box_and_a_faceless_image_has_none(coll) -> None:  # type: ignore[no-untyped-def]
    for name in ("person_a_1", "person_a_2", "person_b_1", "astronaut"):
        faces = coll.get(f"{name}.jpg")["faces"]
        assert len(faces) == 1, name
        left, top, right, bottom = faces[0]["box"]
        assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1
        assert bottom < 0.6, f"{name}: a face is in the upper part of a portrait"
    for name in ("chelsea", "coffee"):
        assert coll.get(f"{name}.jpg")["faces"] == []
    group = coll.get("group.jpg")["faces"]
    assert len(group) == 2
    centres = sorted((f["box"][0] + f["box"][2]) / 2 for f in group)
    split = 640 / (640 + round(512 * 640 / 1163))  # the astronaut fills the left part
    assert centres[0] < split < centres[1]
    stored = coll.store.retrieve(["group.jpg", "chelsea.jpg"], with_vectors=True)
    by_id = {p.id: p for p in stored}
    assert len(by_id["group.jpg"].vectors["faces"].vectors) == 2
    assert "faces" not in by_id["chelsea.jpg"].vectors


@pytest.mark.parametrize("query", ["person_a_1", "person_a_2", "person_a_3", "person_b_1"])
def test_same_person_scores_above_the_threshold_and_others_below(coll, folder, query) -> None:  # type: ignore[no-untyped-def]
    results = coll.search(image=folder / f"{query}.jpg", signal="faces", top_k=20)
    who = PERSON[query]
    for r in results:
        name = r.id.removesuffix(".jpg")
        if name == query:
            assert r.score >= 0.99  # the photo itself
        elif name == "group":
            same = who == "B"
            assert (r.score >= SAME_PERSON_SCORE) is same, (query, r.id, r.score)
        else:
            same = PERSON[name] == who
            assert (r.score >= SAME_PERSON_SCORE) is same, (query, r.id, r.score)
            if not same:
                assert r.score < 0.6, (query, r.id, r.score)  # not even "related"
    found = {r.id for r in results}
    assert {"chelsea.jpg", "coffee.jpg"}.isdisjoint(found)
    assert len(found) == len(INDEXED) - 2


def test_result_names_the_matched_face_in_a_photo_of_several(coll, folder) -> None:  # type: ignore[no-untyped-def]
    results = coll.search(image=folder / "person_b_1.jpg", signal="faces", threshold=0.75)
    assert [r.id for r in results] == ["person_b_1.jpg", "group.jpg"]
    group = coll.get("group.jpg")["faces"]
    match = results[1].match
    assert match is not None and match["box"] == group[match["face"]]["box"]
    assert match["box"][0] > 0.5  # person B stands on the right
    assert match["query_face"]["faces"] == 1


@pytest.mark.slow
def test_query_image_with_several_faces_uses_largest_or_the_one_asked(coll, folder) -> None:  # type: ignore[no-untyped-def]
    image = folder / "group.jpg"
    width, height = Image.open(image).size
    largest = coll.search(image=image, signal="faces", top_k=3)
    assert largest[0].id == "group.jpg"
    assert largest[1].id == "astronaut.jpg" and largest[1].score >= SAME_PERSON_SCORE
    faces = coll.get("group.jpg")["faces"]
    right = next(i for i, f in enumerate(faces) if f["box"][0] > 0.5)
    by_index = coll.search(image=image, signal="faces", face=right, top_k=3)
    assert by_index[1].id == "person_b_1.jpg" and by_index[1].score >= SAME_PERSON_SCORE
    box = (width * 0.7, 0, width, height / 2)
    by_box = coll.search(image=image, signal="faces", box=box, top_k=3)
    assert [r.id for r in by_box] == [r.id for r in by_index]
    assert by_box[0].match["query_face"]["index"] == right
    with pytest.raises(InvalidQuery, match="2 face"):
        coll.search(image=image, signal="faces", face=2)
    with pytest.raises(InvalidQuery, match="no face"):
        coll.search(image=image, signal="faces", box=(0, height - 10, 10, height))


def test_search_by_record_id_and_by_raw_vector(coll) -> None:  # type: ignore[no-untyped-def]
    by_id = coll.search(id="person_a_1.jpg", signal="faces", threshold=SAME_PERSON_SCORE)
    assert [r.id for r in by_id] == ["person_a_2.jpg"]
    stored = coll.store.retrieve(["person_a_2.jpg"], with_vectors=True)[0]
    vector = stored.vectors["faces"].vectors[0]
    by_vector = coll.search(vector=vector, signal="faces", top_k=1)
    assert by_vector[0].id == "person_a_2.jpg" and by_vector[0].score >= 0.99
    with pytest.raises(InvalidQuery, match="no face"):
        coll.search(id="chelsea.jpg", signal="faces")
    with pytest.raises(InvalidQuery, match="128"):
        coll.search(vector=[0.1] * 5, signal="faces")
    with pytest.raises(InvalidQuery):
        coll.search(positive=["person_a_1.jpg"], signal="faces")


def test_calibration_keeps_the_measured_order() -> None:
    # different people measured 0.80-0.84, same person 0.95-0.975, same photo 0.98-0.99
    assert CALIBRATION(0.84) < 0.6 <= CALIBRATION(0.87)
    assert CALIBRATION(0.95) >= SAME_PERSON_SCORE > CALIBRATION(0.9)
    assert CALIBRATION(0.98) >= 0.9
    assert CALIBRATION(CALIBRATION.inverse(SAME_PERSON_SCORE)) == pytest.approx(SAME_PERSON_SCORE)


@pytest.mark.slow
def test_people_grouping_naming_incremental_merge_and_split(tmp_path: Path, folder: Path) -> None:
    with Engine(Settings(data_dir=tmp_path / "data", offline=True)) as engine:
        c = engine.create_collection("people", signals="faces")
        c.index([folder / f"{n}.jpg" for n in INDEXED])
        assert c.people() == []
        assert c.count({"faces_pending": True}) == 5  # the records with a face
        report = c.cluster_people()
        assert report.faces == 6 and report.new_people == 3 and report.people == 3
        people = c.people()
        assert [p.faces for p in people] == [2, 2, 2]
        members = {frozenset(p.sample): p.id for p in people}
        a = members[frozenset({"person_a_1.jpg", "person_a_2.jpg"})]
        b = members[frozenset({"person_b_1.jpg", "group.jpg"})]
        cc = members[frozenset({"astronaut.jpg", "group.jpg"})]
        assert c.count({"people": b}) == 2 and c.count({"faces_pending": True}) == 0

        assert c.name_person(a, "Ada") == a
        with pytest.raises(Conflict):
            c.name_person(b, "ada")
        with pytest.raises(BadInput):
            c.name_person(b, "42")
        by_name = c.search(person="ada")
        assert {r.id for r in by_name} == {"person_a_1.jpg", "person_a_2.jpg"}
        assert all(r.match and r.match["name"] == "Ada" for r in by_name)
        in_group = c.search(person=b)
        assert {r.id for r in in_group} == {"person_b_1.jpg", "group.jpg"}
        group_match = next(r.match for r in in_group if r.id == "group.jpg")
        assert group_match is not None and group_match["box"][0] > 0.5
        with pytest.raises(NotFound):
            c.search(person="nobody")

        # a new photo of A joins A as it is indexed; nobody else changes
        c.index([folder / "person_a_3.jpg"])
        assert c.get("person_a_3.jpg")["faces"][0]["person"] == a
        after = {p.id: (p.name, p.faces) for p in c.people()}
        assert after == {a: ("Ada", 3), b: (None, 2), cc: (None, 2)}

        merged = c.merge_people([b, cc])
        assert merged == b and len(c.people()) == 2
        assert {r.id for r in c.search(person=b)} == {
            "person_b_1.jpg",
            "group.jpg",
            "astronaut.jpg",
        }
        new = c.split_person(b, ["astronaut.jpg"])
        assert new not in (a, b)
        assert c.get("astronaut.jpg")["faces"][0]["person"] == new
        with pytest.raises(BadInput):
            c.split_person(b, ["chelsea.jpg"])

        # a full regroup keeps the ids and names of the people most of its groups had
        full = c.cluster_people(full=True)
        assert full.faces == 7 and full.people == 3
        assert {p.name for p in c.people()} == {"Ada", None}
        assert next(p for p in c.people() if p.name == "Ada").faces == 3


@pytest.mark.slow
def test_faces_beside_semantic_and_duplicate(
    tmp_path: Path, folder: Path, tiny_model: Path
) -> None:
    with Engine(Settings(data_dir=tmp_path / "data", offline=True)) as engine:
        c = engine.create_collection(
            "mixed", signals="semantic,duplicate,faces", model=str(tiny_model)
        )
        c.index([folder / f"{n}.jpg" for n in ("person_a_1", "person_a_2", "chelsea")])
        cheap = c.search(image=folder / "person_a_2.jpg", top_k=3)
        assert all(set(r.scores) == {"semantic"} for r in cheap)  # no detector run, no hash
        plain = c.search(image=folder / "person_a_2.jpg", top_k=3, scores=["faces"])
        assert [r.id for r in plain] == [r.id for r in cheap]
        # the faces' image is the shared one, so the copy signal's hash is scored from it too
        assert {"semantic", "duplicate", "faces"} <= set(plain[0].scores)
        assert plain[0].id == "person_a_2.jpg" and plain[0].scores["faces"] >= 0.99
        other = next(r for r in plain if r.id == "person_a_1.jpg")
        assert other.scores["faces"] >= SAME_PERSON_SCORE
        assert "faces" not in next(r for r in plain if r.id == "chelsea.jpg").scores
        faces = c.search(image=folder / "person_a_2.jpg", signal="faces", top_k=3)
        assert [r.id for r in faces] == ["person_a_2.jpg", "person_a_1.jpg"]
        with pytest.raises(InvalidQuery, match="faces signal"):
            c.search(image=folder / "person_a_2.jpg", face=0)


def test_a_missing_extra_names_the_install_command(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # what an install without dlib looks like
    with Engine(settings) as engine, pytest.raises(MissingExtra, match=r"lookalike\[faces\]"):
        engine.create_collection("f", signals="faces")


def test_unknown_detector_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="face_detector = 'retina'.*'hog' or 'cnn'"):
        Settings(data_dir=tmp_path / "data", face_detector="retina")


@pytest.mark.slow
def test_cnn_detector_finds_the_face_hog_finds() -> None:
    data = (FACES / "person_a_1.jpg").read_bytes()
    decoded = decode(data, min_side=256)
    hog = FacePreparer("hog", 1)(decoded)
    cnn = FacePreparer("cnn", 0)(decoded)
    assert len(hog) == len(cnn) == 1
    h, c = np.array(hog[0].box), np.array(cnn[0].box)
    assert np.abs(h - c).max() < 0.1
    cos = np.dot(hog[0].vector, cnn[0].vector) / (
        np.linalg.norm(hog[0].vector) * np.linalg.norm(cnn[0].vector)
    )
    assert CALIBRATION(float(cos)) >= 0.9  # the same face, boxed a little differently
