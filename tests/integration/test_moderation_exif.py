"""The moderation and EXIF signals through the engine: real NudeNet, real store, real photos."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from lookalike import Engine, Settings
from lookalike.errors import BadInput, Conflict, MissingExtra, UnsafeImage
from lookalike.signals import build_signal
from lookalike.signals.moderation import LABELS, ModerationSignal, nsfw_score
from tests.support.encoded import encode
from tests.support.samples import PHOTO_NAMES, photo


def test_labels_are_the_detectors_own() -> None:
    import nudenet.nudenet

    assert tuple(vars(nudenet.nudenet)["__labels"]) == LABELS
    unsafe = Settings.model_fields["unsafe_labels"].default
    assert set(unsafe) <= set(LABELS)
    assert all(label.endswith("_EXPOSED") for label in unsafe)


def test_nsfw_counts_only_the_unsafe_classes() -> None:
    covered = [{"label": "FACE_FEMALE", "score": 0.9}, {"label": "BELLY_COVERED", "score": 0.8}]
    ordinary_exposed = [{"label": "FEET_EXPOSED", "score": 0.9}]
    explicit = [{"label": "BUTTOCKS_EXPOSED", "score": 0.7}, {"label": "FACE_MALE", "score": 0.95}]
    assert nsfw_score(covered) == 0.0
    assert nsfw_score(ordinary_exposed) == 0.0
    assert nsfw_score(explicit) == 0.7
    assert nsfw_score(covered, unsafe=("FACE_FEMALE",)) == 0.9


@pytest.fixture(scope="module")
def exif_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample photos with known EXIF: camera i, June (i+1) 2021, 1 km further north each;
    plus one with broken EXIF and one PNG with none."""
    folder = tmp_path_factory.mktemp("exif-photos")
    for i, name in enumerate(PHOTO_NAMES):
        exif = Image.Exif()
        exif[0x010F], exif[0x0110], exif[0x0112] = "Canon" if i % 2 else "FUJIFILM", f"M{i}", 1
        exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = f"2021:06:{i + 1:02d} 09:00:00"
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps.update({1: "N", 2: (45.0, 0.0, 0.0), 3: "E", 4: (6.0, 0.0, 0.0)})
        gps[2] = (45.0, 0.0, 0.0 + i * 1000 / 30.87)  # ~1 km per step
        photo(name).save(folder / f"{name}.jpg", quality=90, exif=exif)
    garbage = b"Exif\x00\x00MM\x00*\xff\xff\xff\xff garbage"
    (folder / "broken-exif.jpg").write_bytes(encode(photo("chelsea"), "JPEG", exif=garbage))
    photo("coffee").save(folder / "no-exif.png")
    return folder


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, exif_photos: Path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), offline=True)
    with Engine(settings) as engine:
        coll = engine.create_collection("pics", signals="duplicate,moderation,exif")
        report = coll.index([exif_photos])
        yield coll, report


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_every_ordinary_photo_is_indexed_safe_with_labels(indexed, exif_photos: Path) -> None:  # type: ignore[no-untyped-def]
    coll, report = indexed
    total = len(list(exif_photos.iterdir()))
    assert report.indexed == total and not report.failed and not report.unsafe
    assert coll.count({"safe": True}) == total
    assert coll.count({"nsfw": {"$lt": 0.2}}) == total
    astronaut = coll.get("astronaut.jpg")
    labels = astronaut["moderation"]["labels"]
    assert "FACE_FEMALE" in {d["label"] for d in labels}
    assert all(d["label"] in LABELS and 0.2 <= d["score"] <= 1 for d in labels)
    assert all(0 <= v <= 1 for d in labels for v in d["box"])
    assert coll.count({"moderation.labels.label": "FACE_FEMALE"}) >= 1


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_exif_fields_are_filterable(indexed) -> None:  # type: ignore[no-untyped-def]
    coll, _ = indexed
    rocket = coll.get("rocket.jpg")
    i = PHOTO_NAMES.index("rocket")
    assert rocket["exif"]["taken_at"] == f"2021-06-{i + 1:02d}T09:00:00Z"
    assert rocket["exif"]["model"] == f"M{i}"
    assert "exif" not in coll.get("broken-exif.jpg") and "exif" not in coll.get("no-exif.png")
    early = {"exif.taken_at": {"$gte": "2021-06-02", "$lt": "2021-06-05T00:00:00Z"}}
    assert {r["id"] for r in coll.list_records(filter=early)[0]} == {
        f"{n}.jpg" for n in PHOTO_NAMES[1:4]
    }
    centre = {"type": "Point", "coordinates": [6.0, 45.0]}
    near = {"exif.location": {"$near": {"$geometry": centre, "$maxDistance": 2_500}}}
    assert {r["id"] for r in coll.list_records(filter=near)[0]} == {
        f"{n}.jpg" for n in PHOTO_NAMES[:3]
    }
    assert coll.count({"exif.make": "Canon"}) == len(PHOTO_NAMES) // 2
    hits = coll.search(image=coll.get("chelsea.jpg")["source"], filter=near, top_k=20)
    assert hits and {h.id for h in hits} <= {f"{n}.jpg" for n in PHOTO_NAMES[:3]}


def test_ingest_reports_time_per_image_for_each_signal(indexed) -> None:  # type: ignore[no-untyped-def]
    _, report = indexed
    times = report.ms_per_image
    assert list(times) == ["decode", "duplicate", "moderation", "exif", "write"]
    assert times["moderation"] > times["exif"] >= 0 and times["duplicate"] > 0
    assert times["write"] > 0
    assert report.to_dict()["ms_per_image"] == times


def test_moderate_checks_an_image_without_indexing_it(indexed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    coll, _ = indexed
    before = coll.count()
    path = tmp_path / "camera.png"
    photo("camera").save(path)
    verdict = coll.moderate(path)
    assert verdict["safe"] is True and verdict["nsfw"] == 0.0 and verdict["threshold"] == 0.5
    assert "FACE_MALE" in {d["label"] for d in verdict["labels"]}
    assert coll.moderate(path.read_bytes())["labels"] == verdict["labels"]
    assert coll.count() == before


def test_on_unsafe_rejects_or_flags_what_the_configured_classes_find(
    tmp_path: Path, photos: Path
) -> None:
    # Counting faces as unsafe makes the portraits "unsafe" with no explicit image anywhere.
    settings = Settings(data_dir=tmp_path / "d", offline=True, unsafe_labels=("FACE_FEMALE",))
    portraits = tmp_path / "portraits"
    portraits.mkdir()
    for name in ("astronaut", "coffee", "rocket"):
        shutil.copy(photos / f"{name}.jpg", portraits)
    with Engine(settings) as engine:
        strict = engine.create_collection(
            "strict", signals="duplicate,moderation", on_unsafe="reject"
        )
        report = strict.index([portraits])
        assert [f.source.endswith("astronaut.jpg") for f in report.failed] == [True]
        assert report.failed[0].code == UnsafeImage.code and "nsfw" in report.failed[0].message
        assert report.indexed == 2 and strict.count({"safe": False}) == 0

        flagged = engine.create_collection("flag", signals="duplicate,moderation", on_unsafe="flag")
        report = flagged.index([portraits])
        assert report.indexed == 3 and [u.id for u in report.unsafe] == ["astronaut.jpg"]
        assert report.unsafe[0].nsfw >= 0.5
        assert {r["id"] for r in flagged.list_records(filter={"safe": False})[0]} == {
            "astronaut.jpg"
        }
        assert flagged.info()["on_unsafe"] == "flag"
        with pytest.raises(Conflict):
            engine.create_collection("flag", exist_ok=True, on_unsafe="reject")
        assert engine.moderate(portraits / "astronaut.jpg")["safe"] is False


def test_on_unsafe_needs_the_moderation_signal_and_a_known_action(engine: Engine) -> None:
    with pytest.raises(BadInput, match="moderation"):
        engine.create_collection("x", signals="duplicate", on_unsafe="reject")
    with pytest.raises(BadInput, match="allow, flag, reject"):
        engine.create_collection("y", signals="duplicate,moderation", on_unsafe="block")  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="searches"):
        engine.create_collection("z", signals="moderation,exif")
    assert engine.list_collections() == []


def test_unknown_unsafe_labels_and_a_threshold_out_of_range_are_refused(
    settings: Settings,
) -> None:
    with pytest.raises(BadInput, match="NOSE_EXPOSED"):
        ModerationSignal(settings.replace(unsafe_labels=("NOSE_EXPOSED",)))
    for threshold in (0.0, 1.5):
        with pytest.raises(BadInput, match="nsfw_threshold"):
            ModerationSignal(settings.replace(nsfw_threshold=threshold))


def test_missing_extra_names_the_install_command(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nudenet", None)  # as if it were not installed
    with pytest.raises(MissingExtra) as caught:
        build_signal("moderation", settings, model="")
    assert 'pip install "lookalike[moderation]"' in caught.value.message
    with Engine(settings) as engine, pytest.raises(MissingExtra):
        engine.create_collection("m", signals="duplicate,moderation")
