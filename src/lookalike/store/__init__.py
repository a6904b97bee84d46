"""Vector stores behind one seam; :func:`open_store` picks the backend from the settings."""

from __future__ import annotations

from lookalike.config import Settings
from lookalike.store.base import CollectionStore, Hit, Store, StoredPoint, VectorQuery, VectorSpec

__all__ = [
    "CollectionStore",
    "Hit",
    "Store",
    "StoredPoint",
    "VectorQuery",
    "VectorSpec",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    """The store named by the settings: the embedded Qdrant Edge store under ``data_dir``."""
    from lookalike.store.edge import EdgeStore

    return EdgeStore(
        settings.data_dir,
        hnsw_threshold=settings.hnsw_threshold,
        min_free_bytes=settings.min_free_bytes,
    )
