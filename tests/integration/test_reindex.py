"""Reindex: a collection built again under another model while a thread keeps searching it,
then switched by its alias; nothing is lost, missing sources are reported, an interrupted run is
continued, and people keep their names. On the embedded store and on a Qdrant store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lookalike import Engine, Settings
from lookalike.errors import BadInput, Conflict, NotFound
from lookalike.types import Progress
from tests.support.clip_onnx import build_tiny_clip
from tests.support.faces import face_folder

BACKENDS = ("edge", "qdrant-local")


@pytest.fixture(scope="module")
def other_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second CLIP-shaped model: other weights, other vector size."""
    return build_tiny_clip(tmp_path_factory.mktemp("model") / "other-clip", dim=24, seed=7)


def settings_for(backend: str, root: Path, **extra: Any) -> Settings:
    store = "edge" if backend == "edge" else f"qdrant-local:{root / 'qdrant'}"
    return Settings(data_dir=root / "data", offline=True, store=store, decode_workers=1, **extra)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with Engine(settings_for(str(request.param), tmp_path)) as e:
        yield e


def catalog(photos: Path) -> list[dict[str, Any]]:
    return [
        {"id": p.name, "path": str(p), "group": f"g{n % 2}", "metadata": {"n": n}}
        for n, p in enumerate(sorted(photos.iterdir()))
    ]


def records(engine: Engine, name: str) -> dict[str, tuple[Any, Any]]:
    found, offset = [], None
    while True:
        page, offset = engine.collection(name).list_records(limit=100, offset=offset)
        found += page
        if offset is None:
            return {r["id"]: (r["metadata"], r["group"]) for r in found}


def test_searches_answer_throughout_and_nothing_is_lost(
    engine: Engine, photos: Path, tiny_model: Path, other_model: Path
) -> None:
    c = engine.create_collection("photos", signals="semantic,duplicate", model=str(tiny_model))
    items = catalog(photos)
    assert c.add(items).indexed == len(items)
    c.add([{"id": "uploaded", "data": (photos / items[0]["id"]).read_bytes()}])
    gone = items[1]["id"]
    (photos / gone).unlink()  # its source is gone: reported, not carried
    before = records(engine, "photos")
    probe = items[2]["id"]

    def ask() -> tuple[str, ...]:
        return tuple(r.id for r in engine.collection("photos").search(id=probe, top_k=3))

    answer_before = ask()
    answers: list[tuple[str, ...]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def search_in_a_loop() -> None:
        while not stop.is_set():
            try:
                answers.append(ask())
            except BaseException as exc:
                errors.append(exc)

    searcher = threading.Thread(target=search_in_a_loop)
    searcher.start()
    seen: list[Progress] = []
    try:
        report = engine.reindex("photos", model=str(other_model), progress=seen.append)
        answer_after = ask()
        later = [ask() for _ in range(20)]  # searches after the switch, on the new version
        deadline = time.monotonic() + 30
        while answer_after not in answers and not errors and time.monotonic() < deadline:
            time.sleep(0.01)  # until the searcher has also asked the new version
    finally:
        stop.set()
        searcher.join()

    assert not errors, errors[:3]
    # every search answered, with what the old version answers until the switch and what the
    # new one answers after it (the two models see the photos differently)
    assert answer_before != answer_after
    assert later == [answer_after] * 20
    assert answers.count(answer_before) > 10
    assert set(answers) == {answer_before, answer_after}
    # the searcher's searches ran one after another: once one was answered by the new version,
    # none after it was answered by the old one
    first_new = answers.index(answer_after)
    assert answer_before not in answers[first_new:]
    assert (report.name, report.previous, report.current) == ("photos", "photos@v1", "photos@v2")
    assert engine.aliases() == {"photos": "photos@v2"}
    assert engine.list_collections() == ["photos@v1", "photos@v2"]
    info = engine.collection("photos").info()
    assert info["name"] == "photos@v2" and info["aliases"] == ["photos"]
    assert info["model"] == str(other_model.resolve()) and info["dims"]["semantic"] == 24
    after = records(engine, "photos")
    lost = {gone, "uploaded"}
    assert after == {k: v for k, v in before.items() if k not in lost}
    assert {m.id: m.code for m in report.missing} == {gone: "not_found", "uploaded": "no_source"}
    assert report.records == len(before) and report.indexed == len(before) - 2
    assert seen and seen[-1].done == seen[-1].total == len(before)
    best = engine.collection("photos").search(image=photos / probe, top_k=1)[0]
    assert best.id == probe and best.score > 0.99  # the new vectors are the new model's

    # once more: the alias is switched to a third version, the second is kept
    again = engine.reindex("photos", model=str(tiny_model))
    assert (again.previous, again.current) == ("photos@v2", "photos@v3")
    assert engine.aliases() == {"photos": "photos@v3"}
    assert "photos@v2" in engine.list_collections()
    dropped = engine.reindex("photos", signals="semantic", precision="int8", drop_previous=True)
    assert dropped.previous_dropped and "photos@v3" not in engine.list_collections()
    info = engine.collection("photos").info()
    assert info["signals"] == ["semantic"] and info["precision"] == "int8"
    assert len(records(engine, "photos")) == len(before) - 2


def test_the_previous_version_stays_searchable_after_the_switch(
    tmp_path: Path, photos: Path, tiny_model: Path, other_model: Path
) -> None:
    settings = settings_for("edge", tmp_path)
    with Engine(settings) as engine:
        engine.create_collection("photos", model=str(tiny_model)).add(catalog(photos))
        engine.reindex("photos", model=str(other_model))
    with Engine(settings) as engine:  # a restart: the old folder has its new name
        old = engine.collection("photos@v1")
        assert old.info()["model"] == str(tiny_model.resolve()) and old.count() == len(
            catalog(photos)
        )
        assert old.search(text="a cat", top_k=1)


def test_every_version_opens_under_its_own_name_right_after_the_switch(
    engine: Engine, photos: Path
) -> None:
    """The previous version stays open a few seconds after a switch (for searches already in
    it): meanwhile it used to refuse opening (which failed a whole listing) and then to call
    itself by the name it was created with."""
    engine.create_collection("photos", signals="duplicate").add(catalog(photos))
    engine.reindex("photos")
    assert engine.list_collections() == ["photos@v1", "photos@v2"]
    for name in engine.list_collections():
        info = engine.collection(name).info()
        assert info["name"] == name and info["count"] == len(catalog(photos))
    assert engine.collection("photos").info()["name"] == "photos@v2"
    assert engine.collection("photos@v2").info()["aliases"] == ["photos"]
    assert engine.collection("photos@v1").info()["aliases"] == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_interrupted_reindex_is_continued_by_the_next_run(
    backend: str, tmp_path: Path, photos: Path, tiny_model: Path, other_model: Path
) -> None:
    # written in batches of 2: some are in the store before the interruption
    with Engine(settings_for(backend, tmp_path, batch_size=2)) as engine:
        interrupted_then_continued(engine, photos, tiny_model, other_model)


def interrupted_then_continued(
    engine: Engine, photos: Path, tiny_model: Path, other_model: Path
) -> None:
    items = catalog(photos)
    engine.create_collection("photos", model=str(tiny_model)).add(items)

    class Interrupt(Exception):
        pass

    def interrupt(p: Progress) -> None:
        if p.indexed >= 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        engine.reindex("photos", model=str(other_model), progress=interrupt)
    assert engine.aliases() == {}  # not switched: searches still use the old one
    assert engine.collection("photos").info()["model"] == str(tiny_model.resolve())
    with pytest.raises(Conflict):  # the unfinished version is not mixed with other options
        engine.reindex("photos", model=str(tiny_model))
    report = engine.reindex("photos", model=str(other_model))
    assert report.current == "photos@v2"  # the same version, continued
    assert report.already_there >= 2 and report.already_there + report.indexed == len(items)
    assert set(records(engine, "photos")) == {i["id"] for i in items}


def test_refusals(engine: Engine, photos: Path, tiny_model: Path) -> None:
    engine.create_collection("a", model=str(tiny_model)).add(catalog(photos)[:2])
    engine.create_collection("b", model=str(tiny_model))
    with pytest.raises(NotFound):
        engine.reindex("missing")
    with pytest.raises(BadInput):
        engine.reindex("a", precision="int4")  # type: ignore[arg-type]
    with pytest.raises(BadInput):  # precision is the model's
        engine.reindex("a", signals="duplicate", precision="int8")
    engine.set_alias("pics", "a")
    assert engine.collection("pics").name == "a"
    assert engine.set_alias("pics", "b") == {"pics": "b"}
    assert engine.collection("pics").name == "b"
    engine.reindex("a")
    assert engine.aliases() == {"a": "a@v2", "pics": "b"}
    with pytest.raises(BadInput):  # a version is reindexed through its alias
        engine.reindex("a@v2")


def test_people_keep_their_names_and_faces_after_a_reindex(tmp_path: Path) -> None:
    names = ("person_a_1", "person_a_2", "person_b_1", "astronaut", "group", "coffee")
    folder = face_folder(tmp_path / "faces", names)
    with Engine(settings_for("edge", tmp_path)) as engine:
        c = engine.create_collection("people", signals="faces")
        c.index([folder / f"{n}.jpg" for n in names])
        c.cluster_people()
        ada = next(p.id for p in c.people() if "person_a_1.jpg" in p.sample)
        c.name_person(ada, "Ada")
        before = {p.id: (p.name, p.faces, sorted(p.sample)) for p in c.people()}
        c.mark_not_duplicates("person_a_1.jpg", "person_a_2.jpg")

        report = engine.reindex("people", signals="faces,duplicate")

        assert report.people_carried == sum(faces for _, faces, _ in before.values())
        after = engine.collection("people")
        assert after.name == "people@v2" and after.config["signals"] == ["faces", "duplicate"]
        assert {p.id: (p.name, p.faces, sorted(p.sample)) for p in after.people()} == before
        assert {r.id for r in after.search(person="Ada")} == {"person_a_1.jpg", "person_a_2.jpg"}
        assert after.count({"faces_pending": True}) == 0
        assert after.not_duplicates() == {("person_a_1.jpg", "person_a_2.jpg")}


def test_records_added_and_deleted_during_the_rebuild_are_caught_up(
    tmp_path: Path, photos: Path, tiny_model: Path, other_model: Path
) -> None:
    items = catalog(photos)
    late, early = items[0], items[1]
    with Engine(settings_for("edge", tmp_path, batch_size=2)) as engine:
        engine.create_collection("photos", model=str(tiny_model)).add(items[1:])
        changed: list[bool] = []

        def meanwhile(p: Progress) -> None:
            if p.indexed >= 2 and not changed:  # a writer, while the new version is built
                changed.append(True)
                old = engine.collection("photos")
                old.add([late])
                old.delete([early["id"]])

        report = engine.reindex("photos", model=str(other_model), progress=meanwhile)
        assert changed and report.current == "photos@v2"
        after = records(engine, "photos")
        assert set(after) == {i["id"] for i in items} - {early["id"]}
        assert after[late["id"]] == (late["metadata"], late["group"])
