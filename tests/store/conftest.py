"""The store contract: every backend behind the seam passes the same tests.

``BACKENDS`` names the ``store`` settings the suite runs against; a new backend adds its row
here and passes everything in this folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lookalike import Settings
from lookalike.store import Store, open_store

BACKENDS: dict[str, Callable[[Path], str]] = {
    "edge": lambda folder: "edge",
    "edge-split": lambda folder: "edge",
    "qdrant-local": lambda folder: f"qdrant-local:{folder / 'qdrant'}",
}
"""Backend name -> the ``store`` setting opening it on a data folder. ``qdrant-local`` is
qdrant-client's in-process local mode: the same API as a Qdrant server, without a network (it
searches exactly and ignores sharding, replication and quantization options). ``edge-split`` is
the embedded store with shards of 2 points: every answer is merged from several shards."""
SETTINGS: dict[str, dict[str, object]] = {"edge-split": {"edge_shard_points": 2}}

StoreFactory = Callable[[], Store]


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(backend: str, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens the backend's store on this test's data folder (again after a close: what a
    restart sees)."""
    opened: list[Store] = []
    settings = Settings(data_dir=tmp_path / "data", offline=True, **SETTINGS.get(backend, {}))
    url = BACKENDS[backend](tmp_path / "data")

    def make() -> Store:
        store = open_store(settings, url)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    return make_store()
