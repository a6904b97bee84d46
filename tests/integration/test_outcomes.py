"""The ingest report's per-item outcomes, thumbnails kept with records, and no decode workers
for a handful of images."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from lookalike import Engine, Settings
from lookalike.decode_workers import POOL_MIN_ITEMS, THUMBNAIL_SIDE, Inline, pool_for
from lookalike.errors import Conflict, NotFound
from lookalike.store.base import THUMBNAIL


def test_each_item_gets_its_outcome_in_input_order(engine: Engine, photos: Path) -> None:
    c = engine.create_collection("o", signals="duplicate")
    cat = (photos / "chelsea.jpg").read_bytes()
    c.add([{"id": "coffee", "path": photos / "coffee.jpg"}])
    report = c.add(
        [
            {"id": "cat", "data": cat},
            {"id": "broken", "data": cat[: len(cat) // 3]},
            {"id": "coffee", "path": photos / "coffee.jpg", "metadata": {"k": 1}},
            {"id": "cat", "data": cat},
            {"id": "nothing"},
            {"id": "copy", "data": cat},
            {"id": "rocket", "path": photos / "rocket.jpg"},
        ],
        on_duplicate="skip",
    )
    got = [(o.index, o.id, o.status, o.code) for o in report.outcomes]
    assert got == [
        (0, "cat", "indexed", None),
        (1, "broken", "failed", "bad_image"),
        (2, "coffee", "updated", None),
        (3, "cat", "failed", "conflict"),  # the same id twice in one run
        (4, "nothing", "failed", "bad_input"),
        (5, "copy", "duplicate", None),
        (6, "rocket", "indexed", None),
    ]
    assert report.outcomes[5].duplicate_of == "cat"
    assert "truncated" in (report.outcomes[1].message or "")
    as_dict = report.to_dict()["outcomes"]
    assert as_dict[1]["error"]["code"] == "bad_image" and "error" not in as_dict[0]
    assert as_dict[5]["duplicate_of"] == "cat"
    # counts and outcomes tell the same story
    statuses = [o.status for o in report.outcomes]
    assert statuses.count("indexed") == report.indexed
    assert statuses.count("failed") == len(report.failed)

    again = c.add([{"id": "rocket", "path": photos / "rocket.jpg"}])
    assert [o.status for o in again.outcomes] == ["skipped"]


def test_thumbnails_are_kept_served_and_never_listed(engine: Engine, photos: Path) -> None:
    c = engine.create_collection("t", signals="duplicate", thumbnails=True)
    assert c.info()["thumbnails"] is True
    c.index([photos])
    for name in ("astronaut.jpg", "rocket.jpg"):
        thumb = Image.open(io.BytesIO(c.thumbnail(name)))
        original = Image.open(photos / name)
        assert thumb.format == "JPEG"
        assert max(thumb.size) <= THUMBNAIL_SIDE
        # same shape as the image, within rounding
        ratio = original.width / original.height
        assert thumb.width / thumb.height == pytest.approx(ratio, rel=0.02)
    assert THUMBNAIL not in c.get("rocket.jpg")
    records, _ = c.list_records(limit=100)
    assert records and all(THUMBNAIL not in r for r in records)
    # search and scroll leave the bulky field out of the payload; retrieve keeps it
    points, _ = c.store.scroll(limit=100)
    assert all(THUMBNAIL not in p.payload for p in points)
    hits = c.search(id="rocket.jpg", top_k=3)
    assert hits and "rocket.jpg" not in [h.id for h in hits]
    assert THUMBNAIL in c.store.retrieve(["rocket.jpg"])[0].payload
    with pytest.raises(NotFound, match="no record"):
        c.thumbnail("nope.jpg")


def test_thumbnails_are_a_collection_choice(engine: Engine, photos: Path) -> None:
    assert engine.create_collection("default", signals="duplicate").thumbnails  # the setting
    plain = engine.create_collection("plain", signals="duplicate", thumbnails=False)
    plain.add([{"id": "a", "path": photos / "coffee.jpg"}])
    assert plain.info()["thumbnails"] is False
    assert THUMBNAIL not in plain.store.retrieve(["a"])[0].payload
    with pytest.raises(NotFound, match="keeps no thumbnails"):
        plain.thumbnail("a")
    with pytest.raises(Conflict, match="without thumbnails"):
        engine.create_collection("plain", exist_ok=True, thumbnails=True)
    assert engine.create_collection("plain", exist_ok=True) is plain


def test_a_handful_of_items_decodes_in_process(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, decode_workers=4)
    assert isinstance(pool_for(settings, 1), Inline)
    assert isinstance(pool_for(settings, POOL_MIN_ITEMS - 1), Inline)
    pool = pool_for(settings, POOL_MIN_ITEMS)  # workers start on the first submission only
    try:
        assert isinstance(pool, ProcessPoolExecutor)
    finally:
        pool.shutdown()


def test_base64_items_report_their_id(engine: Engine, photos: Path) -> None:
    c = engine.create_collection("b", signals="duplicate")
    data = base64.b64encode((photos / "camera.jpg").read_bytes()).decode()
    report = c.add([{"base64": data}, {"id": "x", "base64": "not base64!"}])
    first, second = report.outcomes
    assert first.status == "indexed" and first.id and len(first.id) == 32
    assert (second.id, second.status, second.code) == ("x", "failed", "bad_input")
