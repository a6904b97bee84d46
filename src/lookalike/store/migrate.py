"""Copy a collection from one store to another: Edge to a server, a server to Edge, or Edge to
another data folder (a backup).

Everything goes through the store seam, so any two backends work. Points are streamed in
batches with their ids, vectors and whole payload (thumbnails included); the configuration
(people table included) goes last. The target's configuration carries a ``migration`` key while
the copy runs, so a rerun after an interruption resumes (points already copied are not
written again) instead of refusing a non-empty target. A batch that times out is retried, then
reported, never dropped. The copy ends by comparing counts and a random sample of points.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from lookalike.errors import BadInput, Conflict, StoreUnavailable
from lookalike.store.base import (
    REVISION_KEY,
    CollectionStore,
    MultiVector,
    SparseVector,
    Store,
    StoredPoint,
    Vector,
    VectorSpec,
)
from lookalike.store.schema import VERSION_KEY
from lookalike.types import MigrationReport

MIGRATION_KEY = "migration"
"""Configuration key present on a target while a copy into it is unfinished."""
_BACKEND_KEYS = ("vectors", VERSION_KEY, "hnsw_threshold", "layout", REVISION_KEY, MIGRATION_KEY)
"""Configuration keys each store writes for itself, never copied."""

MigrateProgress = Callable[[int, int], None]
"""Called with (points copied or found already there, points in the source)."""


def migrate(
    name: str,
    source: Store,
    target: Store,
    *,
    batch_size: int = 256,
    overwrite: bool = False,
    sample: int = 32,
    retries: int = 3,
    progress: MigrateProgress | None = None,
) -> MigrationReport:
    """Copy collection ``name`` from ``source`` to ``target`` and verify the copy.

    A target collection that exists, holds points and is not an unfinished copy of this one is
    refused unless ``overwrite`` (which drops it first)."""
    if batch_size < 1:
        raise BadInput("batch_size must be at least 1")
    if _place(source) == _place(target):
        raise BadInput(f"source and target are the same store ({source.url}): nothing to copy")
    start = time.perf_counter()
    src = source.open_collection(source.resolve(name))  # an alias: the collection it names
    try:
        config = src.config()
        dst = _target(name, config, source, target, overwrite=overwrite)
        try:
            total = src.count()
            copied, there = _copy(src, dst, total, batch_size, retries, progress)
            dst.update_config({**_portable(config), MIGRATION_KEY: None})
            dst.maintain()  # an embedded target builds its search index now
            verified = verify(src, dst, sample=sample)
        finally:
            dst.close()
    finally:
        src.close()
    return MigrationReport(name, total, copied, there, verified, time.perf_counter() - start)


def _place(store: Store) -> tuple[Any, ...]:
    return (store.url, getattr(store, "root", None), getattr(store, "prefix", None))


def _portable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in _BACKEND_KEYS}


def _target(
    name: str, config: dict[str, Any], source: Store, target: Store, *, overwrite: bool
) -> CollectionStore:
    marker = {"from": source.url}
    if name in target.list_collections():
        dst = target.open_collection(name)
        unfinished = dst.config().get(MIGRATION_KEY) == marker
        if unfinished or dst.count() == 0:
            return dst
        dst.close()
        if not overwrite:
            raise Conflict(
                f"collection {name!r} already holds records in {target.url}: drop it first, or "
                "ask to overwrite it",
                detail={"collection": name, "store": target.url},
            )
        target.drop_collection(name)
    specs = [VectorSpec(**spec) for spec in config.get("vectors", [])]
    target.create_collection(name, specs, {**_portable(config), MIGRATION_KEY: marker})
    return target.open_collection(name)


def _copy(
    src: CollectionStore,
    dst: CollectionStore,
    total: int,
    batch_size: int,
    retries: int,
    progress: MigrateProgress | None,
) -> tuple[int, int]:
    copied = there = 0
    offset: str | None = None
    while True:
        page, offset = src.scroll(limit=batch_size, offset=offset)
        ids = [p.id for p in page]
        done = {p.id for p in _retry(dst.retrieve, (ids,), retries, "reading", ids)}
        todo = [i for i in ids if i not in done]
        if todo:
            # scroll leaves bulky fields out: read the whole points to copy them whole
            points = _retry(_whole, (src, todo), retries, "reading", todo)
            _retry(dst.upsert, (points,), retries, "writing", todo)
        copied += len(todo)
        there += len(done)
        if progress is not None:
            progress(copied + there, total)
        if offset is None:
            return copied, there


def _whole(store: CollectionStore, ids: Sequence[str]) -> list[StoredPoint]:
    return store.retrieve(ids, with_vectors=True)


def _retry(
    action: Callable[..., Any], args: tuple[Any, ...], retries: int, what: str, ids: Sequence[str]
) -> Any:
    for attempt in range(retries + 1):
        try:
            return action(*args)
        except StoreUnavailable as exc:
            if attempt == retries:
                raise StoreUnavailable(
                    f"{what} a batch of {len(ids)} points (from {ids[0]!r}) failed "
                    f"{retries + 1} times: {exc.message}; rerun to resume",
                    detail={"first_id": ids[0], "points": len(ids)},
                ) from exc
            time.sleep(min(8.0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


def verify(src: CollectionStore, dst: CollectionStore, *, sample: int = 32) -> int:
    """Compare counts, and a random sample of points (payload and vectors) in both stores;
    answers how many points were compared."""
    if src.count() != dst.count():
        raise _differs(f"the copy holds {dst.count()} records, the source {src.count()}")
    ids = [p.id for p in src.sample(sample)] if sample > 0 else []
    if not ids:
        return 0
    theirs = {p.id: p for p in dst.retrieve(ids, with_vectors=True)}
    for point in src.retrieve(ids, with_vectors=True):
        copy = theirs.get(point.id)
        if copy is None:
            raise _differs(f"record {point.id!r} is missing from the copy")
        if copy.payload != point.payload:
            raise _differs(f"record {point.id!r} has another payload in the copy")
        if not _same_vectors(point, copy):
            raise _differs(f"record {point.id!r} has other vectors in the copy")
    return len(ids)


def _differs(what: str) -> StoreUnavailable:
    return StoreUnavailable(f"copy verification failed: {what}; copy it again with overwrite")


def _same_vectors(a: StoredPoint, b: StoredPoint) -> bool:
    if set(a.vectors) != set(b.vectors):
        return False
    return all(_close(a.vectors[k], b.vectors[k]) for k in a.vectors)


def _close(x: Vector, y: Vector, tol: float = 1e-5) -> bool:
    if isinstance(x, SparseVector) and isinstance(y, SparseVector):
        dx = dict(zip(x.indices, x.values, strict=True))
        dy = dict(zip(y.indices, y.values, strict=True))
        return dx.keys() == dy.keys() and all(abs(dx[k] - dy[k]) <= tol for k in dx)
    if isinstance(x, MultiVector) and isinstance(y, MultiVector):
        return len(x.vectors) == len(y.vectors) and all(
            _close(r, s, tol) for r, s in zip(x.vectors, y.vectors, strict=True)
        )
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(abs(p - q) <= tol for p, q in zip(x, y, strict=True))
    return False
