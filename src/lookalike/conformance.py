"""Checked by mypy, never imported: the engine and the SDK answer the same interface.

Kept apart from :mod:`lookalike.interface` so that the interface, which both sides import,
imports neither of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lookalike.client import Client, RemoteCollection
    from lookalike.engine import Collection, Engine
    from lookalike.interface import CollectionAPI, EngineAPI, LocalCollection, LocalEngine

    def _both_satisfy(
        engine: Engine, collection: Collection, client: Client, remote: RemoteCollection
    ) -> None:
        engines: list[EngineAPI[CollectionAPI]] = [engine, client]
        collections: list[CollectionAPI] = [collection, remote]
        local_engine: LocalEngine = engine
        local_collection: LocalCollection = collection
        del engines, collections, local_engine, local_collection
