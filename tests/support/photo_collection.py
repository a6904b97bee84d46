"""Collections built for tests: the sample photos indexed through the Python API (before a
server starts), or any images a test made, checked to have all been indexed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lookalike import Collection, Engine, Settings
from tests.support.samples import PHOTO_NAMES

KINDS = {
    "astronaut": "people",
    "camera": "people",
    "chelsea": "animal",
    "coffee": "food",
    "rocket": "space",
    "hubble_deep_field": "space",
    "retina": "science",
    "motorcycle_left": "vehicle",
}
"""A metadata field to filter on, and the group of each photo."""


def record_id(name: str) -> str:
    """Ids with a slash, as users give them (``kind/name.jpg``)."""
    return f"{KINDS[name]}/{name}.jpg"


def indexed_collection(
    engine: Engine, name: str, sources: Sequence[Path], *, expected: int, **create: Any
) -> Collection:
    """A new collection ``name`` holding ``sources`` (files or folders): ``expected`` images,
    every one of them indexed."""
    collection = engine.create_collection(name, **create)
    report = collection.index(sources)
    assert report.indexed == expected and not report.failed, report.to_dict()
    return collection


def index_photos(
    settings: Settings, folder: Path, name: str = "photos", **create: Any
) -> dict[str, list[float]]:
    """Index every sample photo of ``folder`` into ``name``; the stored semantic vectors by id."""
    with Engine(settings) as engine:
        return add_photos(engine, folder, name, **create)


def add_photos(
    engine: Engine, folder: Path, name: str = "photos", **create: Any
) -> dict[str, list[float]]:
    """:func:`index_photos` with an engine already open (a running server's)."""
    collection = engine.create_collection(name, **create)
    report = collection.add(
        {
            "id": record_id(n),
            "path": str(folder / f"{n}.jpg"),
            "metadata": {"kind": KINDS[n], "n": i},
            "group": KINDS[n],
        }
        for i, n in enumerate(PHOTO_NAMES)
    )
    assert report.indexed == len(PHOTO_NAMES), report.failed
    points = collection.store.retrieve([record_id(n) for n in PHOTO_NAMES], with_vectors=True)
    return {p.id: list(p.vectors.get("semantic", [])) for p in points}
