"""The embedded store: Qdrant Edge, one shard folder per collection under the data dir.

Layout::

    <data_dir>/collections/<name>/collection.json   configuration (signals, model, vectors)
    <data_dir>/collections/<name>/shard/            the Qdrant Edge shard
    <data_dir>/collections/<name>/lock              held by the process that has it open

One process at a time opens a collection: a second one gets :class:`StoreLocked` naming the
holder, never a half-shared WAL. No HNSW graph is built below ``hnsw_threshold`` points (exact
search is fast there); above it :meth:`EdgeCollection.build_index` builds it, and the engine calls
that at the end of an ingest, never per insert.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import qdrant_edge as qe

from lookalike.errors import BadInput, Conflict, NotFound, StoreLocked, StoreUnavailable
from lookalike.filters import Node
from lookalike.store.base import (
    RETRIEVE_ONLY,
    Hit,
    MultiVector,
    SparseVector,
    StoredPoint,
    Vector,
    VectorQuery,
    VectorSpec,
    point_id,
    validate_name,
)
from lookalike.store.edge_filter import to_edge_filter
from lookalike.store.space import FreeSpace

_DISTANCE = {"cosine": qe.Distance.Cosine, "dot": qe.Distance.Dot}
_INDEXED_FIELDS = {"id": qe.PayloadSchemaType.Keyword, "group": qe.PayloadSchemaType.Keyword}


class EdgeStore:
    """Collections as folders of Qdrant Edge shards."""

    def __init__(
        self, data_dir: Path, *, hnsw_threshold: int = 20_000, min_free_bytes: int = 0
    ) -> None:
        self.root = Path(data_dir) / "collections"
        self.hnsw_threshold = hnsw_threshold
        self.min_free_bytes = min_free_bytes

    def _dir(self, name: str) -> Path:
        return self.root / validate_name(name)

    def list_collections(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "collection.json").is_file())

    def exists(self, name: str) -> bool:
        return (self._dir(name) / "collection.json").is_file()

    def create_collection(
        self, name: str, vectors: Sequence[VectorSpec], config: dict[str, Any]
    ) -> None:
        folder = self._dir(name)
        if self.exists(name):
            raise Conflict(f"collection {name!r} already exists")
        FreeSpace(folder, self.min_free_bytes).check()
        folder.mkdir(parents=True, exist_ok=True)
        max_dim = max((v.size for v in vectors if not v.sparse), default=1)
        edge_config = qe.EdgeConfig(
            vectors={
                v.name: qe.EdgeVectorParams(
                    size=v.size,
                    distance=_DISTANCE[v.distance],
                    multivector_config=(
                        qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim)
                        if v.multivector
                        else None
                    ),
                )
                for v in vectors
                if not v.sparse
            },
            sparse_vectors={
                v.name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)
                for v in vectors
                if v.sparse
            },
            optimizers=qe.EdgeOptimizersConfig(
                indexing_threshold=max(1, self.hnsw_threshold * max_dim * 4 // 1024)
            ),
        )
        with _lock(folder, name):
            shard_dir = folder / "shard"
            if shard_dir.exists():  # left by a create that crashed before writing its config
                shutil.rmtree(shard_dir)
            shard = _call(qe.EdgeShard.create, str(shard_dir), edge_config)
            try:
                for field, schema in _INDEXED_FIELDS.items():
                    shard.update(qe.UpdateOperation.create_field_index(field, schema))
                shard.flush()
            finally:
                shard.close()
            stored = {
                **config,
                "vectors": [v.__dict__ for v in vectors],
                "hnsw_threshold": self.hnsw_threshold,  # the shard's optimizer was built with it
            }
            _write_json(folder / "collection.json", stored)

    def collection_config(self, name: str) -> dict[str, Any]:
        path = self._dir(name) / "collection.json"
        try:
            config: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            raise NotFound(f"no collection named {name!r}") from None
        return config

    def open_collection(self, name: str) -> EdgeCollection:
        folder = self._dir(name)
        if not self.exists(name):
            raise NotFound(f"no collection named {name!r}")
        collection = EdgeCollection(folder, name, self.hnsw_threshold)
        collection.space = FreeSpace(folder, self.min_free_bytes)
        return collection

    def drop_collection(self, name: str) -> None:
        folder = self._dir(name)
        if not self.exists(name):
            raise NotFound(f"no collection named {name!r}")
        with _lock(folder, name):
            (folder / "collection.json").unlink()
            shutil.rmtree(folder / "shard", ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


class EdgeCollection:
    """An open shard, held exclusively by this process until :meth:`close`."""

    def __init__(self, folder: Path, name: str, hnsw_threshold: int) -> None:
        self.name = name
        self.folder = folder
        self.hnsw_threshold = hnsw_threshold
        config = json.loads((folder / "collection.json").read_text())
        self._vector_count = max(1, len(config.get("vectors", [])))
        self.hnsw_threshold = int(config.get("hnsw_threshold", hnsw_threshold))
        self._lock_cm = _lock(folder, name)
        self._lock_cm.__enter__()
        try:
            self._shard = _call(qe.EdgeShard.load, str(folder / "shard"))
        except BaseException:
            self._lock_cm.__exit__(None, None, None)
            raise
        self._closed = False
        self.space = FreeSpace(folder, 0)
        """Set by the store that opens the collection: the reserve checked before writes."""

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        if not points:
            return
        self.space.check()
        edge_points = [
            qe.Point(
                point_id(p.id),
                {k: _to_edge(v) for k, v in p.vectors.items()},
                {**p.payload, "id": p.id},
            )
            for p in points
        ]
        _call(self._shard.update, qe.UpdateOperation.upsert_points(edge_points))

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            _call(self._shard.update, qe.UpdateOperation.delete_points([point_id(i) for i in ids]))

    def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[StoredPoint]:
        if not ids:
            return []
        records = _call(self._shard.retrieve, [point_id(i) for i in ids], True, with_vectors)
        return [_stored(r) for r in records]

    def set_payload(self, ids: Sequence[str], payload: dict[str, Any]) -> None:
        if ids:
            self.space.check()
            op = qe.UpdateOperation.set_payload([point_id(i) for i in ids], payload)
            _call(self._shard.update, op)

    def search(
        self,
        query: VectorQuery,
        *,
        limit: int,
        filter: Node | None = None,
        score_threshold: float | None = None,
        with_vectors: bool = False,
    ) -> list[Hit]:
        request = _request(query, limit, filter, score_threshold, with_vectors)
        return [_hit(p) for p in _call(self._shard.query, request)]

    def search_batch(
        self,
        queries: Sequence[VectorQuery],
        *,
        limit: int,
        filter: Node | None = None,
        with_vectors: bool = False,
    ) -> list[list[Hit]]:
        if not queries:
            return []
        batch = qe.QueryBatchRequest(
            [_request(q, limit, filter, None, with_vectors) for q in queries]
        )
        return [[_hit(p) for p in points] for points in _call(self._shard.query_batch, batch)]

    def scroll(
        self,
        *,
        filter: Node | None = None,
        limit: int = 256,
        offset: str | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[StoredPoint], str | None]:
        if offset is not None:
            try:
                uuid.UUID(offset)
            except ValueError:
                raise BadInput(f"invalid offset {offset!r}: give a next_offset of a page") from None
        request = qe.ScrollRequest(
            offset=offset,
            limit=limit,
            filter=to_edge_filter(filter, point_id=point_id),
            with_payload=_light_payload(),
            with_vector=with_vectors,
        )
        records, next_offset = _call(self._shard.scroll, request)
        return [_stored(r) for r in records], None if next_offset is None else str(next_offset)

    def count(self, filter: Node | None = None) -> int:
        request = qe.CountRequest(exact=True, filter=to_edge_filter(filter, point_id=point_id))
        return int(_call(self._shard.count, request))

    def index_status(self) -> tuple[int, int]:
        info = self._shard.info()
        return int(info.points_count), int(info.indexed_vectors_count) // self._vector_count

    def needs_index(self) -> bool:
        points, indexed = self.index_status()
        return points >= self.hnsw_threshold and points - indexed >= self.hnsw_threshold // 10

    def build_index(self) -> bool:
        """Run the shard's optimizers (HNSW build); blocks this process while it runs."""
        return self.needs_index() and bool(_call(self._shard.optimize))

    def flush(self) -> None:
        _call(self._shard.flush)

    def update_config(self, changes: dict[str, Any]) -> dict[str, Any]:
        path = self.folder / "collection.json"
        config: dict[str, Any] = {**json.loads(path.read_text()), **changes}
        _write_json(path, config)  # under the lock this process holds
        return config

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._shard.flush()
            self._shard.close()
        finally:
            self._lock_cm.__exit__(None, None, None)

    def __enter__(self) -> EdgeCollection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _lock(contextlib.AbstractContextManager["_lock"]):
    """An exclusive, non-blocking lock on a collection folder, naming its holder's pid."""

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / "lock"
        self.name = name
        self._fh: IO[str] | None = None

    def __enter__(self) -> _lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held until __exit__
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise StoreLocked(
                f"collection {self.name!r} is open in another process (pid {holder}); "
                "stop it, or send commands through the server that holds it",
                detail={"collection": self.name, "pid": holder},
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def _call(fn: Any, *args: Any) -> Any:
    """Translate the store's exceptions at the seam that meets them."""
    try:
        return fn(*args)
    except Exception as exc:
        text = str(exc)
        if "WouldBlock" in text:
            raise StoreLocked(f"the collection is open in another process: {text}") from exc
        if "Bad request" in text or "Wrong input" in text:
            raise BadInput(text) from exc
        raise StoreUnavailable(f"store error: {text}") from exc


def _light_payload() -> Any:
    """The payload without its bulky fields (thumbnails), for search and scroll."""
    return qe.PayloadSelector.Exclude(list(RETRIEVE_ONLY))


def _to_edge(vector: Vector | Sequence[float]) -> Any:
    if isinstance(vector, SparseVector):
        return qe.SparseVector(list(vector.indices), [float(x) for x in vector.values])
    if isinstance(vector, MultiVector):
        return [[float(x) for x in v] for v in vector.vectors]
    return [float(x) for x in vector]


def _request(
    query: VectorQuery,
    limit: int,
    filter: Node | None,
    score_threshold: float | None,
    with_vectors: bool,
) -> qe.QueryRequest:
    if query.vector is not None:
        scoring = qe.Query.Nearest(_to_edge(query.vector), using=query.using)
    else:
        rec = qe.RecommendQuery(
            positives=[_to_edge(v) for v in query.positives],
            negatives=[_to_edge(v) for v in query.negatives],
        )
        scoring = qe.Query.RecommendBestScore(rec, using=query.using)
    return qe.QueryRequest(
        limit=limit,
        query=scoring,
        filter=to_edge_filter(filter, point_id=point_id),
        score_threshold=score_threshold,
        with_payload=_light_payload(),
        with_vector=with_vectors,
    )


def _hit(p: Any) -> Hit:
    payload = dict(p.payload or {})
    return Hit(
        id=str(payload.get("id")), score=float(p.score), payload=payload, vectors=_vectors(p.vector)
    )


def _vectors(raw: Any) -> dict[str, Vector]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Vector] = {}
    for name, value in raw.items():
        if isinstance(value, list) and value and isinstance(value[0], list):
            out[name] = MultiVector(value)
        elif isinstance(value, list):
            out[name] = value
        elif isinstance(value, qe.SparseVector):
            out[name] = SparseVector(list(value.indices), list(value.values))
    return out


def _stored(record: Any) -> StoredPoint:
    payload = dict(record.payload or {})
    return StoredPoint(id=str(payload.get("id")), payload=payload, vectors=_vectors(record.vector))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
