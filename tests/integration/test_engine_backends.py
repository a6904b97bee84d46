"""The engine on every store backend: the same photos indexed into the embedded Edge store and
into qdrant-client's local mode answer every kind of query alike.

Local mode stands in for a Qdrant server here (same API, no network); it searches exactly, as
Edge does below ``hnsw_threshold``, so the two must agree to the last result. ``edge-split`` is
the embedded store with shards of 3 points, so every answer is merged from several shards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lookalike import Engine, Settings
from lookalike.engine import Collection
from lookalike.errors import NotFound

BACKENDS = ("edge", "edge-split", "qdrant-local")


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, photo_files: Path
) -> Iterator[dict[str, Collection]]:
    root = tmp_path_factory.mktemp("backends")
    engines = {
        "edge": Engine(Settings(data_dir=root / "edge", offline=True)),
        "edge-split": Engine(Settings(data_dir=root / "split", offline=True, edge_shard_points=3)),
        "qdrant-local": Engine(
            Settings(data_dir=root / "local", offline=True, store=f"qdrant-local:{root / 'q'}")
        ),
    }
    collections = {}
    for name, engine in engines.items():
        c = engine.create_collection("photos", signals="semantic,duplicate", model=str(tiny_model))
        items = [
            {
                "id": p.name,
                "path": str(p),
                "group": f"g{n % 3}",
                "metadata": {"n": n, "kind": "even" if n % 2 else "odd"},
            }
            for n, p in enumerate(sorted(photo_files.iterdir()))
        ]
        report = c.add(items)
        assert report.indexed == len(items) and not report.failed
        collections[name] = c
    yield collections
    for engine in engines.values():
        engine.close()


def answers(c: Collection, **query: Any) -> list[tuple[str, float]]:
    return [(r.id, round(r.score, 3)) for r in c.search(**query)]


QUERIES: list[dict[str, Any]] = [
    {"text": "a cat on a sofa", "top_k": 5},
    {"id": "coffee.jpg", "top_k": 4},
    {"id": "coffee.jpg", "top_k": 4, "signal": "duplicate"},
    {"positive": ["astronaut.jpg"], "negative": ["coffee.jpg"], "top_k": 3},
    {"text": "x", "filter": {"kind": "even"}, "top_k": 10},
    {"text": "x", "filter": {"n": {"$gte": 3}}, "top_k": 10},
    {"vector": [0.1] * 32, "top_k": 3},
    {"text": "x", "group": True, "top_k": 3},
    {"text": "x", "filter": {"group": {"$in": ["g0", "g2"]}}, "top_k": 10},
]


@pytest.mark.parametrize("query", QUERIES, ids=[",".join(q) for q in QUERIES])
def test_the_same_query_answers_alike_on_every_store(
    pair: dict[str, Collection], query: dict[str, Any]
) -> None:
    edge, *others = (answers(pair[b], **query) for b in BACKENDS)
    assert edge
    for other in others:
        assert [i for i, _ in edge] == [i for i, _ in other]
        assert [s for _, s in edge] == pytest.approx([s for _, s in other], abs=2e-3)


def test_the_split_collection_is_in_several_shards(pair: dict[str, Collection]) -> None:
    folder = pair["edge-split"].store.folder  # type: ignore[attr-defined]
    shards = sorted(p.name for p in folder.iterdir() if p.name.startswith("shard"))
    assert len(shards) >= 3 and shards[:3] == ["shard", "shard-1", "shard-2"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_search_by_image_and_records(
    pair: dict[str, Collection], backend: str, photo_files: Path
) -> None:
    c = pair[backend]
    image = photo_files / "rocket.jpg"
    top = c.search(image=image, top_k=2)
    assert top[0].id == "rocket.jpg" and top[0].score >= 0.99
    total = len(list(photo_files.iterdir()))
    assert c.count() == total == c.info()["count"]
    assert c.count({"kind": "odd"}) == (total + 1) // 2
    seen: list[str] = []
    offset = None
    while True:
        page, offset = c.list_records(limit=3, offset=offset)
        seen += [r["id"] for r in page]
        if offset is None:
            break
    assert sorted(seen) == sorted(p.name for p in photo_files.iterdir())
    drawn = c.random_records(3, filter={"kind": "odd"})
    assert len(drawn) == 3 and all(r["metadata"]["kind"] == "odd" for r in drawn)
    assert c.get("rocket.jpg")["metadata"]["kind"] in ("odd", "even")


@pytest.mark.parametrize("backend", BACKENDS)
def test_update_delete_and_configuration(
    pair: dict[str, Collection], backend: str, photo_files: Path
) -> None:
    c = pair[backend]
    c.update("coffee.jpg", metadata={"label": "cup"}, merge=True)
    assert c.get("coffee.jpg")["metadata"]["label"] == "cup"
    assert [r.id for r in c.search(text="x", filter={"label": "cup"})] == ["coffee.jpg"]
    extra = c.add([{"id": "spare", "path": str(photo_files / "coffee.jpg")}])
    assert extra.indexed == 1
    assert c.delete(["spare", "never"]) == {"spare": True, "never": False}
    with pytest.raises(NotFound):
        c.get("spare")
    info = c.info()
    assert info["schema_version"] >= 2 and info["signals"] == ["semantic", "duplicate"]


def test_duplicate_clusters_agree(pair: dict[str, Collection], photo_files: Path) -> None:
    for c in pair.values():
        c.add([{"id": "copy-of-rocket", "path": str(photo_files / "rocket.jpg")}])
    edge, *others = (
        sorted(sorted(m.id for m in cl.members) for cl in pair[b].duplicates()) for b in BACKENDS
    )
    assert ["copy-of-rocket", "rocket.jpg"] in edge
    assert all(other == edge for other in others)


def test_a_migrated_collection_answers_the_same_queries(
    tmp_path: Path, tiny_model: Path, photo_files: Path
) -> None:
    """edge -> local-mode store -> another edge folder: the copies answer every query alike."""
    from lookalike.store import open_store
    from lookalike.store.migrate import migrate

    first = Settings(data_dir=tmp_path / "a", offline=True)
    with Engine(first) as engine:
        c = engine.create_collection(
            "photos", signals="semantic,duplicate", model=str(tiny_model), thumbnails=True
        )
        items = [
            {"id": p.name, "path": str(p), "group": f"g{n % 3}", "metadata": {"n": n}}
            for n, p in enumerate(sorted(photo_files.iterdir()))
        ]
        assert c.add(items).indexed == len(items)
        before = {str(q): answers(c, **q) for q in QUERIES}
    local = f"qdrant-local:{tmp_path / 'q'}"
    last = Settings(data_dir=tmp_path / "b", offline=True)
    server = first.replace(store=local)
    for source, target in ((first, server), (server, last)):
        src, dst = open_store(source), open_store(target)
        try:
            report = migrate("photos", src, dst, batch_size=4)
        finally:
            src.close()
            dst.close()
        assert report.copied == len(items) and report.verified > 0
    with Engine(last) as engine:
        c = engine.collection("photos")
        after = {str(q): answers(c, **q) for q in QUERIES}
        assert c.thumbnail("coffee.jpg")[:2] == b"\xff\xd8"  # JPEG thumbnails came along
    assert after == before
