"""A Qdrant server or cluster as the store, through ``qdrant-client`` (``lookalike[server]``).

Chosen by the ``store`` setting: ``http(s)://host:6333`` (a server or cluster; ``store_api_key``
for Qdrant Cloud or a secured cluster) or ``qdrant-local:PATH`` (qdrant-client's in-process local
mode, ``qdrant-local::memory:`` for a store that keeps nothing). Local mode speaks the same API
but is a plain Python implementation: exact search only, no sharding, replication, quantization
or on-disk options (it ignores them), and slow beyond some tens of thousands of points; it is
for tests and trials.

Each lookalike collection is one Qdrant collection named ``store_prefix + name``, holding the
same points as the embedded store (the configuration point included, ``base.META_ID``), so a
collection moves between stores by copying its points. There is no per-process lock: several
API processes may share one server; the configuration is re-read before each change so that a
change made by one process is not lost by another's next write to a different key.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lookalike.errors import BadInput, Conflict, MissingExtra, NotFound, StoreUnavailable
from lookalike.filters import Node
from lookalike.payload import FIELD_INDEXES, RETRIEVE_ONLY, search_leaves_out
from lookalike.store import schema
from lookalike.store.aliases import check_alias, check_drop, check_new_name
from lookalike.store.base import (
    META_ID,
    REVISION_KEY,
    Announce,
    Hit,
    IndexStatus,
    MultiVector,
    Order,
    SparseVector,
    StoredPoint,
    Vector,
    VectorQuery,
    VectorSpec,
    WithVectors,
    check_offset,
    merge_config,
    moment,
    point_id,
    revision,
    stale,
    validate_name,
    vector_selection,
    visible,
    whole_pages,
)

try:
    from qdrant_client import QdrantClient
    from qdrant_client import models as m
except ImportError as exc:  # pragma: no cover - depends on the install
    raise MissingExtra(
        "a Qdrant server store needs qdrant-client: pip install 'lookalike[server]'"
    ) from exc

from lookalike.store.server_filter import to_server_filter

_META_POINT = point_id(META_ID)
_CONFIG = "config"
_WRITER = "writer"
"""Payload key of the configuration point: a token of the update that wrote it last."""
_CONFIG_TRIES = 8
_DISTANCE = {"cosine": m.Distance.COSINE, "dot": m.Distance.DOT}
_INDEX_KIND = {
    "keyword": m.PayloadSchemaType.KEYWORD,
    "float": m.PayloadSchemaType.FLOAT,
    "datetime": m.PayloadSchemaType.DATETIME,
    "geo": m.PayloadSchemaType.GEO,
}


ALIAS_TTL = 1.0
"""Seconds a process trusts the aliases it read from the server."""


@dataclass(frozen=True)
class CreateOptions:
    """How new collections are laid out on a cluster (documented in docs/scaling.md)."""

    shards: int = 1
    replicas: int = 1
    write_consistency: int = 1
    on_disk: bool = False
    quantization: bool = False
    hnsw_m: int = 16
    hnsw_ef_construct: int = 100
    hnsw_ef: int | None = None
    """Search time, not creation: candidates an HNSW search keeps (None: the server's)."""
    oversampling: float = 2.0
    """Search time: candidates rescored with the full vectors, as a multiple of the limit."""

    def search_params(self) -> m.SearchParams:
        return m.SearchParams(
            hnsw_ef=self.hnsw_ef,
            quantization=m.QuantizationSearchParams(rescore=True, oversampling=self.oversampling),
        )


class ServerStore:
    """Collections as Qdrant collections on a server, a cluster, or qdrant-client's local mode."""

    def __init__(
        self,
        client: QdrantClient,
        *,
        url: str,
        prefix: str = "",
        options: CreateOptions | None = None,
    ) -> None:
        self.client = client
        self.url = url
        self.prefix = prefix
        self.options = options or CreateOptions()
        self.local = url.startswith("qdrant-local:")
        self._aliases: tuple[float, dict[str, str]] | None = None
        self._aliases_lock = threading.Lock()

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        api_key: str | None = None,
        prefix: str = "",
        options: CreateOptions | None = None,
        timeout: int = 30,
    ) -> ServerStore:
        """Open the store a ``store`` setting names; an unreachable server is a clear error."""
        if url.startswith("qdrant-local:"):
            where = url.removeprefix("qdrant-local:")
            if not where:
                raise BadInput("qdrant-local needs a folder (qdrant-local:PATH or :memory:)")
            client = QdrantClient(location=":memory:") if where == ":memory:" else None
            client = client or QdrantClient(path=where)
        else:
            client = QdrantClient(url=url, api_key=api_key, timeout=timeout)
        store = cls(client, url=url, prefix=prefix, options=options)
        try:  # reach it now: a wrong URL fails at start, not mid-request
            store.list_collections()
        except StoreUnavailable as exc:
            raise StoreUnavailable(
                f"cannot reach the Qdrant store at {url}: {exc.message}",
                detail={"store": url},
            ) from exc
        return store

    def _qualified(self, name: str) -> str:
        return self.prefix + validate_name(name)

    def list_collections(self) -> list[str]:
        found = _call(self.client.get_collections).collections
        return sorted(
            c.name[len(self.prefix) :]
            for c in found
            if c.name.startswith(self.prefix) and c.name != self.prefix
        )

    def exists(self, name: str) -> bool:
        """Whether a collection (not an alias: Qdrant answers true for both) has this name."""
        return name in self.list_collections()

    # aliases: Qdrant's own ----------------------------------------------------------------

    def aliases(self) -> dict[str, str]:
        found = _call(self.client.get_aliases).aliases
        n = len(self.prefix)
        mapping = {
            a.alias_name[n:]: a.collection_name[n:]
            for a in found
            if a.alias_name.startswith(self.prefix) and a.collection_name.startswith(self.prefix)
        }
        with self._aliases_lock:
            self._aliases = (time.monotonic(), mapping)
        return dict(mapping)

    def resolve(self, name: str) -> str:
        """Alias first; the aliases are read from the server at most every
        :data:`ALIAS_TTL` seconds (a switch made by this process is seen at once)."""
        with self._aliases_lock:
            cached = self._aliases
        if cached is None or time.monotonic() - cached[0] > ALIAS_TTL:
            return self.aliases().get(name, name)
        return cached[1].get(name, name)

    def set_alias(self, alias: str, target: str | None) -> None:
        current = self.aliases()
        check_alias(alias, target, collections=self.list_collections(), aliases=current)
        self._switch_aliases({alias: target}, current)

    def _switch_aliases(
        self, changes: dict[str, str | None], current: dict[str, str] | None = None
    ) -> None:
        """Set (or with ``None`` remove) several aliases in one atomic change."""
        current = self.aliases() if current is None else current
        actions: list[Any] = []
        for alias, target in changes.items():
            if alias in current:
                delete = m.DeleteAlias(alias_name=self.prefix + alias)
                actions.append(m.DeleteAliasOperation(delete_alias=delete))
            if target is not None:
                create = m.CreateAlias(
                    collection_name=self._qualified(target), alias_name=self.prefix + alias
                )
                actions.append(m.CreateAliasOperation(create_alias=create))
        _call(self.client.update_collection_aliases, actions)
        self.aliases()

    def adopt(self, name: str, target: str, keep_as: str) -> None:
        """Qdrant cannot rename a collection nor give an alias a collection's name: the old
        collection's points are copied to ``keep_as`` (no model work), then it is dropped and
        its name made an alias. Between the drop and the alias, other processes resolving
        ``name`` find nothing for a moment; this process never looks (the engine holds the
        switch)."""
        collections = self.list_collections()
        for needed in (name, target):
            if needed not in collections:
                raise NotFound(f"no collection named {needed!r}")
        if keep_as in collections:
            raise Conflict(f"collection {keep_as!r} already exists")
        old = self.open_collection(name)
        config = old.config()
        specs = [VectorSpec(**v) for v in config.get("vectors", [])]
        self.create_collection(keep_as, specs, {**config, "name": keep_as})
        copy = self.open_collection(keep_as)
        for points in whole_pages(old):
            copy.upsert(points)
        copy.update_config({k: v for k, v in config.items() if k not in ("name", "vectors")})
        naming = [alias for alias, named in self.aliases().items() if named == name]
        if naming:  # aliases of the old records keep naming them
            self._switch_aliases(dict.fromkeys(naming, keep_as))
        self.drop_collection(name)
        self.set_alias(name, target)

    # collections --------------------------------------------------------------------------

    def create_collection(
        self, name: str, vectors: Sequence[VectorSpec], config: dict[str, Any]
    ) -> None:
        qualified = self._qualified(name)
        check_new_name(name, self.aliases())
        if self.exists(name):
            raise Conflict(f"collection {name!r} already exists")
        opts = self.options
        quantization = (
            m.ScalarQuantization(
                scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8, always_ram=True)
            )
            if opts.quantization
            else None
        )
        _call(
            self.client.create_collection,
            qualified,
            vectors_config={
                v.name: m.VectorParams(
                    size=v.size,
                    distance=_DISTANCE[v.distance],
                    on_disk=opts.on_disk or None,
                    multivector_config=(
                        m.MultiVectorConfig(comparator=m.MultiVectorComparator.MAX_SIM)
                        if v.multivector
                        else None
                    ),
                )
                for v in vectors
                if not v.sparse
            },
            sparse_vectors_config={
                v.name: m.SparseVectorParams(modifier=m.Modifier.IDF) for v in vectors if v.sparse
            },
            shard_number=opts.shards,
            replication_factor=opts.replicas,
            write_consistency_factor=opts.write_consistency,
            quantization_config=quantization,
            hnsw_config=m.HnswConfigDiff(m=opts.hnsw_m, ef_construct=opts.hnsw_ef_construct),
        )
        for field, kind in FIELD_INDEXES.items() if not self.local else ():  # local: none
            _call(self.client.create_payload_index, qualified, field, _INDEX_KIND[kind])
        stored = {
            **config,
            "vectors": [v.__dict__ for v in vectors],
            schema.VERSION_KEY: schema.SCHEMA_VERSION,
        }
        _write_meta(self.client, qualified, stored)

    def open_collection(self, name: str) -> ServerCollection:
        if not self.exists(name):
            raise NotFound(f"no collection named {name!r}")
        collection = ServerCollection(self.client, self._qualified(name), name)
        if not self.local:  # local mode searches exactly, and warns about search parameters
            collection.params = self.options.search_params()
        collection.range_indexes = not self.local  # local mode sorts without one
        schema.ensure_version(name, collection)
        return collection

    def drop_collection(self, name: str) -> None:
        check_drop(name, self.aliases())
        if not self.exists(name):
            raise NotFound(f"no collection named {name!r}")
        _call(self.client.delete_collection, self._qualified(name))

    def close(self) -> None:
        self.client.close()


class ServerCollection:
    """One Qdrant collection; the client is the store's and stays open after :meth:`close`."""

    def __init__(self, client: QdrantClient, qualified: str, name: str) -> None:
        self.client = client
        self.qualified = qualified
        self.name = name
        self._config = self._read_config()
        self._vector_count = max(1, len(self._config.get("vectors", [])))
        self.params: m.SearchParams | None = None
        """Set by the store that opens the collection: how nearest-neighbour searches run."""
        self.range_indexes = True
        """Whether sorting needs a range index on the field (not in local mode)."""
        self._ordered: set[str] = set()

    def _read_config(self) -> dict[str, Any]:
        records = _call(self.client.retrieve, self.qualified, [_META_POINT], with_payload=True)
        if not records:
            raise NotFound(
                f"collection {self.name!r} has no lookalike configuration (not made by "
                "lookalike, or its creation was interrupted): drop it and create it again"
            )
        config: dict[str, Any] = dict(records[0].payload or {}).get(_CONFIG) or {}
        return config

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        if not points:
            return
        structs = [
            m.PointStruct(
                id=point_id(p.id),
                vector={k: _to_server(v) for k, v in p.vectors.items()},
                payload={**p.payload, "id": p.id},
            )
            for p in points
        ]
        _call(self.client.upsert, self.qualified, structs, wait=True)

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            selector = m.PointIdsList(points=[point_id(i) for i in ids])
            _call(self.client.delete, self.qualified, selector, wait=True)

    def retrieve(
        self, ids: Sequence[str], *, with_vectors: WithVectors = False
    ) -> list[StoredPoint]:
        if not ids:
            return []
        records = _call(
            self.client.retrieve,
            self.qualified,
            [point_id(i) for i in ids],
            with_payload=True,
            with_vectors=vector_selection(with_vectors),
        )
        return [_stored(r) for r in records]

    def set_payload(self, ids: Sequence[str], payload: dict[str, Any]) -> None:
        if ids:
            _call(
                self.client.set_payload,
                self.qualified,
                payload,
                [point_id(i) for i in ids],
                wait=True,
            )

    def search(
        self,
        query: VectorQuery,
        *,
        limit: int,
        filter: Node | None = None,
        score_threshold: float | None = None,
        with_vectors: WithVectors = False,
        full_payload: bool = False,
    ) -> list[Hit]:
        request = _request(
            query, limit, filter, score_threshold, with_vectors, self.params, full_payload
        )
        answer = _call(self.client.query_points, self.qualified, **_as_kwargs(request))
        return [_hit(p) for p in answer.points]

    def search_batch(
        self,
        queries: Sequence[VectorQuery],
        *,
        limit: int,
        filter: Node | None = None,
        with_vectors: WithVectors = False,
        score_thresholds: Sequence[float | None] | None = None,
        full_payload: bool = False,
    ) -> list[list[Hit]]:
        if not queries:
            return []
        thresholds = list(score_thresholds or [None] * len(queries))
        requests = [
            _request(q, limit, filter, threshold, with_vectors, self.params, full_payload)
            for q, threshold in zip(queries, thresholds, strict=True)
        ]
        answers = _call(self.client.query_batch_points, self.qualified, requests)
        return [[_hit(p) for p in answer.points] for answer in answers]

    def scroll(
        self,
        *,
        filter: Node | None = None,
        limit: int = 256,
        offset: str | None = None,
        with_vectors: WithVectors = False,
    ) -> tuple[list[StoredPoint], str | None]:
        if offset is not None:
            check_offset(offset)
        records, next_offset = _call(
            self.client.scroll,
            self.qualified,
            scroll_filter=_filter(visible(filter)),
            limit=limit,
            offset=offset,
            with_payload=_payload_without(),
            with_vectors=vector_selection(with_vectors),
        )
        return [_stored(r) for r in records], None if next_offset is None else str(next_offset)

    def scroll_ordered(
        self,
        order: Order,
        *,
        filter: Node | None = None,
        limit: int = 256,
        start: int | None = None,
    ) -> list[tuple[int, StoredPoint]]:
        self._range_index(order.field)
        records, _ = _call(
            self.client.scroll,
            self.qualified,
            scroll_filter=_filter(visible(filter)),
            limit=limit,
            order_by=m.OrderBy(
                key=order.field,
                direction=m.Direction.DESC if order.descending else m.Direction.ASC,
                start_from=None if start is None else moment(start),
            ),
            with_payload=_payload_without(),
            with_vectors=False,
        )
        return [(int(r.order_value), _stored(r)) for r in records]

    def _range_index(self, field: str) -> None:
        """Index ``field`` as a datetime if the collection does not yet (made before sorting
        existed); the server builds it once."""
        if not self.range_indexes or field in self._ordered:
            return
        info = _call(self.client.get_collection, self.qualified)
        if field not in (info.payload_schema or {}):
            _call(
                self.client.create_payload_index,
                self.qualified,
                field,
                m.PayloadSchemaType.DATETIME,
                wait=True,
            )
        self._ordered.add(field)

    def count(self, filter: Node | None = None) -> int:
        answer = _call(
            self.client.count, self.qualified, count_filter=_filter(visible(filter)), exact=True
        )
        return int(answer.count)

    def sample(self, limit: int, *, filter: Node | None = None) -> list[StoredPoint]:
        answer = _call(
            self.client.query_points,
            self.qualified,
            query=m.SampleQuery(sample=m.Sample.RANDOM),
            query_filter=_filter(visible(filter)),
            limit=limit,
            with_payload=_payload_without(),
        )
        return [_stored(p) for p in answer.points]

    def status(self) -> IndexStatus:
        info = _call(self.client.get_collection, self.qualified)
        points = max(0, int(info.points_count or 0) - 1)  # the configuration point
        indexed = int(info.indexed_vectors_count or 0) // self._vector_count
        return IndexStatus(points, min(points, indexed))

    def maintain(self, announce: Announce | None = None) -> bool:
        """Nothing to do: the server builds its indexes itself, in the background."""
        return False

    def config(self) -> dict[str, Any]:
        """The configuration as the store holds it now (another process may have changed it)."""
        self._config = self._read_config()
        return dict(self._config)

    def update_config(
        self, changes: dict[str, Any], *, expect: int | None = None
    ) -> dict[str, Any]:
        """Compare-and-set on the configuration point: the write is conditioned on the revision
        read just before (Qdrant's conditional upsert), and a token written with it tells this
        writer whether it was the one that won. A writer that lost merges its change into the
        newer configuration and tries again, unless it asked for a revision (``expect``)."""
        token = uuid.uuid4().hex
        for _ in range(_CONFIG_TRIES):
            current = self._read_config()
            if expect is not None and revision(current) != expect:
                raise stale(self.name, expect, revision(current))
            config = merge_config(current, changes)
            _write_meta(self.client, self.qualified, config, token=token, on=revision(current))
            written = _call(self.client.retrieve, self.qualified, [_META_POINT], with_payload=True)
            payload = dict(written[0].payload or {}) if written else {}
            if payload.get(_WRITER) == token:
                self._config = dict(payload.get(_CONFIG) or {})
                return dict(self._config)
            if expect is not None:  # another process wrote between the read and the write
                found = revision(dict(payload.get(_CONFIG) or {}))
                raise stale(self.name, expect, found)
        raise stale(self.name, revision(current), revision(self._read_config()))

    def close(self) -> None:
        """Nothing to release: the connection belongs to the store."""

    def __enter__(self) -> ServerCollection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Translate the client's exceptions at the seam that meets them."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:  # local mode refuses bad input with these
        raise BadInput(str(exc)) from exc
    except Exception as exc:
        text = str(exc)
        status = getattr(exc, "status_code", None)
        if status in (400, 422) or "Bad request" in text or "Wrong input" in text:
            raise BadInput(text) from exc
        if status == 404:
            raise NotFound(text) from exc
        raise StoreUnavailable(f"store error: {type(exc).__name__}: {text}") from exc


def _filter(node: Node | None) -> m.Filter | None:
    return to_server_filter(node, point_id=point_id)


def _write_meta(
    client: QdrantClient,
    qualified: str,
    config: dict[str, Any],
    *,
    token: str | None = None,
    on: int | None = None,
) -> None:
    """Write the configuration point; with ``on``, only if its revision is still ``on``."""
    payload: dict[str, Any] = {_CONFIG: config}
    if token is not None:
        payload[_WRITER] = token
    point = m.PointStruct(id=_META_POINT, vector={}, payload=payload)
    condition = None
    if on is not None:
        key = f"{_CONFIG}.{REVISION_KEY}"
        condition = (
            m.Filter(must=[m.FieldCondition(key=key, match=m.MatchValue(value=on))])
            if on
            else m.Filter(must=[m.IsEmptyCondition(is_empty=m.PayloadField(key=key))])
        )
    _call(client.upsert, qualified, [point], wait=True, update_filter=condition)


def _payload_without(fields: Sequence[str] = RETRIEVE_ONLY) -> m.PayloadSelectorExclude:
    return m.PayloadSelectorExclude(exclude=list(fields))


def _to_server(vector: Vector | Sequence[float]) -> Any:
    if isinstance(vector, SparseVector):
        return m.SparseVector(
            indices=list(vector.indices), values=[float(x) for x in vector.values]
        )
    if isinstance(vector, MultiVector):
        return [[float(x) for x in v] for v in vector.vectors]
    return [float(x) for x in vector]


def _request(
    query: VectorQuery,
    limit: int,
    filter: Node | None,
    score_threshold: float | None,
    with_vectors: WithVectors,
    params: m.SearchParams | None = None,
    full_payload: bool = False,
) -> m.QueryRequest:
    if query.vector is not None:
        scoring: Any = m.NearestQuery(nearest=_to_server(query.vector))
    else:
        scoring = m.RecommendQuery(
            recommend=m.RecommendInput(
                positive=[_to_server(v) for v in query.positives],
                negative=[_to_server(v) for v in query.negatives],
                strategy=m.RecommendStrategy.BEST_SCORE,
            )
        )
    return m.QueryRequest(
        query=scoring,
        using=query.using,
        filter=_filter(filter),
        limit=limit,
        score_threshold=score_threshold,
        with_payload=_payload_without(search_leaves_out(full_payload)),
        with_vector=vector_selection(with_vectors),
        params=params,
    )


def _as_kwargs(request: m.QueryRequest) -> dict[str, Any]:
    return {
        "query": request.query,
        "using": request.using,
        "query_filter": request.filter,
        "limit": request.limit,
        "score_threshold": request.score_threshold,
        "with_payload": request.with_payload,
        "with_vectors": request.with_vector,
        "search_params": request.params,
    }


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
            out[name] = MultiVector([[float(x) for x in v] for v in value])
        elif isinstance(value, list):
            out[name] = [float(x) for x in value]
        elif isinstance(value, m.SparseVector):
            out[name] = SparseVector(list(value.indices), [float(x) for x in value.values])
    return out


def _stored(record: Any) -> StoredPoint:
    payload = dict(record.payload or {})
    return StoredPoint(id=str(payload.get("id")), payload=payload, vectors=_vectors(record.vector))
