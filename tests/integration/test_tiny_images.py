"""Tiny images (a tracking pixel, an icon) are indexed and searched like any other through every
signal that runs here: the signals that need more pixels than an image has store nothing for it
rather than fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from lookalike import Engine
from lookalike.errors import InvalidQuery
from tests.support.encoded import encode

pytestmark = pytest.mark.slow

SIZES = [(1, 1), (2, 2), (7, 3), (16, 16)]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_tiny_images_are_indexed_and_searched_by_every_signal(
    engine: Engine, tiny_model: Path, tmp_path: Path, fmt: str
) -> None:
    c = engine.create_collection(
        "tiny", model=str(tiny_model), signals="semantic,duplicate,text,faces,moderation,exif"
    )
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
    assert c.search(text="anything", signal="text") == []
