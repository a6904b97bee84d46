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

KNOWN_STORES = ("edge", "http://HOST:PORT", "https://HOST:PORT", "qdrant-local:PATH")
"""The forms a ``store`` setting takes."""


def open_store(settings: Settings, url: str | None = None) -> Store:
    """The store named by ``url`` (default: the ``store`` setting): ``edge`` is the embedded
    Qdrant Edge store under ``data_dir``; a URL or ``qdrant-local:PATH`` a Qdrant server store
    (``lookalike[server]``)."""
    url = settings.store if url is None else url
    if url.strip().lower() == "edge":
        from lookalike.store.edge import EdgeLayout, EdgeSearch, EdgeStore

        return EdgeStore(
            settings.data_dir,
            hnsw_threshold=settings.hnsw_threshold,
            min_free_bytes=settings.min_free_bytes,
            layout=EdgeLayout(
                on_disk=settings.store_on_disk,
                quantization=settings.store_quantization,
                hnsw_m=settings.hnsw_m,
                hnsw_ef_construct=settings.hnsw_ef_construct,
                shard_points=settings.edge_shard_points,
            ),
            search=EdgeSearch(
                hnsw_ef=settings.hnsw_ef, oversampling=settings.quantization_oversampling
            ),
        )
    if url.startswith(("http://", "https://", "qdrant-local:")):
        from lookalike.store.server import CreateOptions, ServerStore

        options = CreateOptions(
            shards=settings.store_shards,
            replicas=settings.store_replicas,
            write_consistency=settings.store_write_consistency,
            on_disk=settings.store_on_disk,
            quantization=settings.store_quantization,
            hnsw_m=settings.hnsw_m,
            hnsw_ef_construct=settings.hnsw_ef_construct,
            hnsw_ef=settings.hnsw_ef,
            oversampling=settings.quantization_oversampling,
        )
        return ServerStore.connect(
            url, api_key=settings.store_api_key, prefix=settings.store_prefix, options=options
        )
    raise BadInput(
        f"store {url!r} is not one lookalike knows; use one of: {', '.join(KNOWN_STORES)}",
        detail={"store": url, "known": list(KNOWN_STORES)},
    )
