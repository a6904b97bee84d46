"""Tiny images (a tracking pixel, an icon) are indexed and searched like any other through every
signal: the signals that need more pixels than an image has store nothing for it rather than
fail. The objects signal runs the tests' detector."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from lookalike import Engine, Settings
from lookalike.errors import InvalidQuery
from tests.support.detector import NUDENET
from tests.support.encoded import encode

pytestmark = pytest.mark.slow

SIZES = [(1, 1), (2, 2), (7, 3), (16, 16)]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_tiny_images_are_indexed_and_searched_by_every_signal(
    tiny_model: Path, tmp_path: Path, fmt: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", offline=True, object_detector=str(NUDENET))
    with Engine(settings) as engine:
        _index_and_search(engine, tiny_model, tmp_path, fmt)


def _index_and_search(engine: Engine, tiny_model: Path, tmp_path: Path, fmt: str) -> None:
    signals = "semantic,duplicate,text,faces,moderation,exif,objects"
    c = engine.create_collection("tiny", model=str(tiny_model), signals=signals)
    files = []
    for i, size in enumerate(SIZES):
        path = tmp_path / f"{size[0]}x{size[1]}.{fmt.lower()}"
        path.write_bytes(encode(Image.new("RGB", size, (40 * i, 200, 90)), fmt))
        files.append(path)
    report = c.add([{"id": p.name, "path": p} for p in files])
    assert [o.status for o in report.outcomes] == ["indexed"] * len(SIZES)
    assert c.count() == len(SIZES)
    for path in files:
        same = c.search(image=path, signal="duplicate", top_k=len(SIZES))
        assert same[0].score == 1.0 and path.name in {r.id for r in same if r.score == 1.0}
        assert len(c.search(image=path, signal="semantic", top_k=2)) == 2
        by_id = c.search(id=path.name, signal="duplicate", top_k=len(SIZES))
        assert {r.id for r in by_id} == {p.name for p in files} - {path.name}  # the others
        with pytest.raises(InvalidQuery):
            c.search(image=path, signal="faces")  # no face to search by: said, not a crash
        assert not c.get(path.name).get("objects")  # too small to hold one
        assert c.search(image=path, signal="objects") == []  # the query is embedded whole
    assert c.search(text="anything", signal="text") == []
