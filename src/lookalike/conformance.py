"""Checked by mypy, never imported: the engine and the SDK answer the same interface.

Kept apart from :mod:`lookalike.interface` so that the interface, which both sides import,
imports neither of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lookalike.client import Client, RemoteCollection
    from lookalike.engine import Collection, Engine
    from lookalike.interface import CollectionAPI, EngineAPI

    def _both_satisfy(
        engine: Engine, collection: Collection, client: Client, remote: RemoteCollection
    ) -> None:
        engines: list[EngineAPI] = [engine, client]
        collections: list[CollectionAPI] = [collection, remote]
        del engines, collections
