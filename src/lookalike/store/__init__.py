"""Vector stores behind one seam; :func:`open_store` picks the backend from the settings."""

from __future__ import annotations

from lookalike.config import Settings
from lookalike.errors import BadInput
from lookalike.store.base import (
    CollectionStore,
    Hit,
    IndexStatus,
    Store,
    StoredPoint,
    VectorQuery,
    VectorSpec,
)

__all__ = [
    "KNOWN_STORES",
    "CollectionStore",
    "Hit",
    "IndexStatus",
    "Store",
    "StoredPoint",
    "VectorQuery",
    "VectorSpec",
    "open_store",
]

KNOWN_STORES = ("edge",)
"""The forms a ``store`` setting takes."""


def open_store(settings: Settings, url: str | None = None) -> Store:
    """The store named by ``url`` (default: the ``store`` setting): ``edge`` is the embedded
    Qdrant Edge store under ``data_dir``."""
    url = settings.store if url is None else url
    if url.strip().lower() == "edge":
        from lookalike.store.edge import EdgeStore

        return EdgeStore(
            settings.data_dir,
            hnsw_threshold=settings.hnsw_threshold,
            min_free_bytes=settings.min_free_bytes,
        )
    raise BadInput(
        f"store {url!r} is not one lookalike knows; use one of: {', '.join(KNOWN_STORES)}",
        detail={"store": url, "known": list(KNOWN_STORES)},
    )
