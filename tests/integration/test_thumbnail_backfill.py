"""Turning thumbnails on for a collection made without them: the missing ones are made from the
sources still there (files, URLs), each record gets its outcome, a rerun finishes the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike import Engine
from lookalike.config import Settings
from lookalike.errors import ForbiddenPath, NotFound
from lookalike.types import Progress
from tests.support.encoded import corrupt_jpeg, image_bytes, photo_folder
from tests.support.image_server import serving
from tests.support.samples import PHOTO_NAMES


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    return photo_folder(tmp_path / "images", 5, side=400)


def test_thumbnails_are_made_from_the_sources_still_there(
    settings: Settings, sources: Path, tmp_path: Path
) -> None:
    hosted = tmp_path / "hosted"
    hosted.mkdir()
    (hosted / "web.jpg").write_bytes(image_bytes(PHOTO_NAMES[5], side=300))
    (hosted / "gone.jpg").write_bytes(image_bytes(PHOTO_NAMES[6], side=300))
    settings = settings.replace(allowed_networks=("127.0.0.0/8",), fetch_retries=0)
    a, b, c, d, e = (sources / f"{n}.jpg" for n in PHOTO_NAMES[:5])
    with serving(hosted) as url, Engine(settings) as engine:
        plain = engine.create_collection("plain", signals="duplicate", thumbnails=False)
        items = [
            {"id": "a", "path": a},
            {"id": "b", "path": b},
            {"id": "deleted", "path": c},
            {"id": "broken", "path": d},
            {"id": "uploaded", "data": e.read_bytes()},
            {"id": "web", "url": f"{url}/web.jpg"},
            {"id": "web-gone", "url": f"{url}/gone.jpg"},
        ]
        assert plain.add(items).indexed == 7
        with pytest.raises(NotFound):
            plain.thumbnail("a")
        c.unlink()
        d.write_bytes(corrupt_jpeg())
        (hosted / "gone.jpg").unlink()

        seen: list[Progress] = []
        report = plain.make_thumbnails(progress=seen.append)
        status = {o.id: o.status for o in report.outcomes}
        assert status == {
            "a": "made",
            "b": "made",
            "web": "made",
            "deleted": "source_missing",
            "uploaded": "source_missing",
            "web-gone": "source_missing",
            "broken": "failed",
        }
        assert (report.total, report.made, report.source_missing, report.failed) == (7, 3, 3, 1)
        assert report.kept == 0
        assert seen[-1].done == seen[-1].total == 7 and seen[-1].indexed == 3
        broken = next(o for o in report.outcomes if o.id == "broken")
        assert broken.code == "bad_image" and broken.message
        assert plain.info()["thumbnails"] is True

        # the thumbnail ingest would have made: same bytes as a collection made with them
        kept = engine.create_collection("kept", signals="duplicate", thumbnails=True)
        kept.add([{"id": "a", "path": a}, {"id": "web", "url": f"{url}/web.jpg"}])
        for rid in ("a", "web"):
            assert plain.thumbnail(rid) == kept.thumbnail(rid)

        # a rerun visits only what is still missing; a source back makes it
        c.write_bytes(image_bytes(PHOTO_NAMES[2], side=400))
        again = plain.make_thumbnails()
        assert (again.total, again.kept, again.made) == (4, 3, 1)
        assert {o.id for o in again.outcomes} == {"deleted", "uploaded", "web-gone", "broken"}
        assert plain.thumbnail("deleted")[:2] == b"\xff\xd8"

        # records added from now on get one at ingest
        plain.add([{"id": "new", "path": b}])
        assert plain.thumbnail("new")[:2] == b"\xff\xd8"


def test_a_file_outside_what_may_be_read_fails_alone(settings: Settings, sources: Path) -> None:
    def refuse(path: Path) -> Path:
        if path.name.startswith(PHOTO_NAMES[0]):
            raise ForbiddenPath(f"{path}: outside the allowed roots")
        return path

    with Engine(settings) as engine:
        coll = engine.create_collection("c", signals="duplicate", thumbnails=False)
        coll.index([sources])
        report = coll.make_thumbnails(open_file=refuse)
    failed = [o for o in report.outcomes if o.status == "failed"]
    assert [o.code for o in failed] == ["forbidden_path"] and report.made == 4
