"""The embedded store: Qdrant Edge, a folder of shards per collection under the data dir.

Layout::

    <data_dir>/collections/<name>/shard/     the first Qdrant Edge shard (configuration point)
    <data_dir>/collections/<name>/shard-N/   the next ones, once a shard holds ``shard_points``
    <data_dir>/collections/<name>/lock       held by the process that has it open
    <data_dir>/collections/aliases.json      the aliases (``aliases.AliasFile``)

The collection's configuration lives in the first shard, on the seam's configuration point
(``base.META_ID``); collections of schema version 1 kept it in ``collection.json`` beside the
shard, which opening one moves into the shard (``schema.py``). A shard is built as
``<shard>.partial`` and renamed when complete, so a crashed create leaves no half shard.

New points go to the last shard; once it holds ``shard_points`` (100,000 by default) a new one
is opened and the full one's HNSW graph is built in the background while the new one fills
(:mod:`.edge_parts` has the rules that keep each record in one shard). So no index build, nor the
load and close around it that hold the interpreter lock, handles more than one shard's points,
and a big ingest builds while it writes. Searches ask every shard and merge their answers.

One process at a time opens a collection: a second one gets :class:`StoreLocked` naming the
holder, never a half-shared WAL. No HNSW graph is built below ``hnsw_threshold`` points (exact
search is fast there); above it :meth:`EdgeCollection.maintain` builds it, and the engine calls
that at the end of an ingest, never per insert.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import qdrant_edge as qe

from lookalike.errors import BadInput, Conflict, NotFound, StoreLocked, StoreUnavailable
from lookalike.filters import Node
from lookalike.payload import ID, KEYWORD_INDEXED, ORDER_INDEXED, RETRIEVE_ONLY, search_leaves_out
from lookalike.store import schema
from lookalike.store.aliases import AliasFile, check_alias, check_drop, check_new_name
from lookalike.store.base import (
    META_ID,
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
)
from lookalike.store.edge_build import copy_shard, optimize_in_child, read_ahead, write_back
from lookalike.store.edge_filter import to_edge_filter
from lookalike.store.edge_parts import (
    merge_ordered,
    merge_records,
    merge_scroll,
    part_name,
    part_numbers,
    recover_parts,
    top_points,
)
from lookalike.store.space import FreeSpace

_DISTANCE = {"cosine": qe.Distance.Cosine, "dot": qe.Distance.Dot}
_QUANTILE = 0.99
"""Scalar quantization clips the extreme 1 % of values (Qdrant's usual choice), giving the rest
a finer int8 step."""
_FULL_SCAN_KB = 10_000
"""A filtered search whose matches hold fewer vector kilobytes than this scans them instead of
walking the graph (Qdrant's default)."""
_SEARCH_THREADS = 1
"""Threads one search of a shard spreads over its segments. The shard's default (one per CPU)
makes the calling thread wait for the others while it holds the interpreter lock, so under
concurrent requests every other request waits too: with one, 20 clients on 2 cores were served
1.07x the requests, id and text searches p50 0.85x (p99 0.68x to 0.93x), and a lone search on
300,000 points was as fast (docs/performance.md). Fixed when a collection is created."""
_KEYWORD_INDEX = qe.KeywordIndexParams(memory=qe.Memory.Cold)
_DATETIME_INDEX = qe.DatetimeIndexParams(memory=qe.Memory.Cold)
"""Payload indexes in memory-mapped files that a load maps, not rebuilds in RAM: loading a built
shard holds the interpreter lock (see :mod:`lookalike.store.edge_build`), and in-RAM keyword
and datetime indexes were most of that load (at 100,000 points 179 ms against 48 ms, at 300,000
656 against 70: ``benchmarks/health_during_build.py``); what filters and sorted listings read
of them stays in the page cache."""
_META_POINT = point_id(META_ID)
_CONFIG = "config"
"""Payload key of the configuration point holding the configuration."""
LEGACY_CONFIG = "collection.json"
"""Where schema version 1 kept the configuration."""


@dataclass(frozen=True)
class EdgeLayout:
    """Where a new collection keeps its dense vectors (settings ``store_on_disk``,
    ``store_quantization``; fixed when the collection is created).

    ``on_disk``: the full vectors stay in memory-mapped files that are not read in ahead (the
    page cache holds what searches touch, and gives it back under pressure). ``quantization``:
    an int8 copy of each vector (a quarter of the size) is kept in RAM; the HNSW graph is
    searched on it and the best ``oversampling`` x ``limit`` candidates are rescored with the
    full vectors, so the scores returned are the exact ones. Both take effect when the search
    index is built (at ``hnsw_threshold`` points): smaller collections are searched exactly.
    ``hnsw_m`` and ``hnsw_ef_construct`` (settings of the same names) shape that graph: fewer
    builds it faster and finds fewer of the true neighbours. ``shard_points``: the most points
    one shard takes before new ones go to the next (:mod:`lookalike.store.edge_parts`)."""

    on_disk: bool = False
    quantization: bool = False
    hnsw_m: int = 16
    hnsw_ef_construct: int = 100
    shard_points: int = 100_000


@dataclass(frozen=True)
class EdgeSearch:
    """How nearest-neighbour searches of an indexed collection run (settings ``hnsw_ef``,
    ``quantization_oversampling``); a per-process choice, not stored."""

    hnsw_ef: int | None = None
    """Candidates the graph search keeps; None: the collection's ``hnsw_ef_construct``."""
    oversampling: float = 2.0
    """Candidates rescored with the full vectors, as a multiple of ``limit`` (quantized
    collections only)."""

    def params(self, *, quantized: bool) -> qe.SearchParams | None:
        """The search parameters of a collection; None (the store's own) when nothing is set."""
        if self.hnsw_ef is None and not quantized:
            return None
        return qe.SearchParams(
            hnsw_ef=self.hnsw_ef,
            quantization=(
                qe.QuantizationSearchParams(rescore=True, oversampling=self.oversampling)
                if quantized
                else None
            ),
        )


class EdgeStore:
    """Collections as folders of Qdrant Edge shards."""

    url = "edge"

    def __init__(
        self,
        data_dir: Path,
        *,
        hnsw_threshold: int = 20_000,
        min_free_bytes: int = 0,
        layout: EdgeLayout | None = None,
        search: EdgeSearch | None = None,
    ) -> None:
        self.root = Path(data_dir) / "collections"
        self.hnsw_threshold = hnsw_threshold
        self.min_free_bytes = min_free_bytes
        self._aliases = AliasFile(self.root)
        self.layout = layout or EdgeLayout()
        self.search = search or EdgeSearch()

    def _dir(self, name: str) -> Path:
        return self.root / validate_name(name)

    def list_collections(self) -> list[str]:
        if not self.root.is_dir():
            return []
        moves = self._settle()
        return sorted(moves.get(p.name, p.name) for p in self.root.iterdir() if _has_shard(p))

    def exists(self, name: str) -> bool:
        return _has_shard(self._dir(name)) and name not in self._aliases.aliases()

    # aliases ------------------------------------------------------------------------------

    def aliases(self) -> dict[str, str]:
        return self._aliases.aliases()

    def resolve(self, name: str) -> str:
        return self._aliases.aliases().get(name, name)

    def set_alias(self, alias: str, target: str | None) -> None:
        collections = self.list_collections()
        with self._aliases.editing() as record:
            check_alias(alias, target, collections=collections, aliases=record["aliases"])
            if target is None:
                del record["aliases"][alias]
            else:
                record["aliases"][alias] = target

    def adopt(self, name: str, target: str, keep_as: str) -> None:
        """The alias is written first, and is the switch: resolution reads aliases before
        folders (aliases that named the old collection name ``keep_as`` from then on). The
        old folder is renamed to ``keep_as`` once no process holds it open (at
        once if none does; else by the first listing or opening after it is closed)."""
        collections = self.list_collections()
        for needed in (name, target):
            if needed not in collections:
                raise NotFound(f"no collection named {needed!r}")
        if keep_as in collections:
            raise Conflict(f"collection {keep_as!r} already exists")
        with self._aliases.editing() as record:
            for alias, named in record["aliases"].items():
                if named == name:  # aliases of the old records keep naming them
                    record["aliases"][alias] = keep_as
            record["moves"][name] = keep_as
            record["aliases"][name] = target
        self._settle()

    def _settle(self) -> dict[str, str]:
        """Rename the folders of adopted collections that no process holds any more; answers
        the renames still waiting (``old folder -> new name``)."""
        moves = self._aliases.moves()
        if not moves:
            return moves
        done = []
        for old, new in moves.items():
            source, dest = self.root / old, self.root / new
            if not _has_shard(source):
                done.append(old)  # renamed by another process
                continue
            try:
                with _lock(source, old):
                    os.replace(source, dest)
            except StoreLocked:
                continue
            done.append(old)
        if done:
            with self._aliases.editing() as record:
                for old in done:
                    record["moves"].pop(old, None)
            moves = self._aliases.moves()
        return moves

    def _pending(self, name: str) -> None:
        """Refuse a collection whose folder waits to be renamed to ``name``."""
        for old, new in self._settle().items():
            if new == name:
                raise StoreLocked(
                    f"collection {name!r} (formerly {old!r}) is still open in a process; "
                    "try again once it has let it go (within seconds for a server)",
                    detail={"collection": name, "was": old},
                )

    # collections --------------------------------------------------------------------------

    def create_collection(
        self, name: str, vectors: Sequence[VectorSpec], config: dict[str, Any]
    ) -> None:
        folder = self._dir(name)
        check_new_name(name, self._aliases.aliases())
        if self.exists(name) or name in self.list_collections():
            raise Conflict(f"collection {name!r} already exists")
        folder.mkdir(parents=True, exist_ok=True)  # first: a folder that cannot be made says so
        FreeSpace(folder, self.min_free_bytes).check()
        layout = self.layout
        edge_config = _edge_config(vectors, layout, self.hnsw_threshold)
        stored = {
            **config,
            "vectors": [v.__dict__ for v in vectors],
            "hnsw_threshold": self.hnsw_threshold,  # the shard's optimizer was built with it
            "layout": {
                "on_disk": layout.on_disk,
                "quantization": layout.quantization,
                "hnsw_m": layout.hnsw_m,
                "hnsw_ef_construct": layout.hnsw_ef_construct,
                "shard_points": layout.shard_points,
            },
            schema.VERSION_KEY: schema.SCHEMA_VERSION,
        }
        with _lock(folder, name):
            if self.exists(name):
                raise Conflict(f"collection {name!r} already exists")
            partial = folder / "shard.partial"
            if partial.exists():  # left by a create that crashed
                shutil.rmtree(partial)
            shard = _call(qe.EdgeShard.create, str(partial), edge_config)
            try:
                _index_fields(shard)
                _write_meta(shard, stored)
                shard.flush()
            finally:
                shard.close()
            os.replace(partial, folder / "shard")

    def open_collection(self, name: str) -> EdgeCollection:
        folder = self._dir(name)
        self._pending(name)
        if not self.exists(name):
            raise NotFound(f"no collection named {name!r}")
        collection = EdgeCollection(folder, name, self.hnsw_threshold)
        collection.space = FreeSpace(folder, self.min_free_bytes)
        layout = collection.config().get("layout") or {}
        collection.params = self.search.params(quantized=bool(layout.get("quantization")))
        try:
            schema.ensure_version(name, collection)
        except BaseException:
            collection.close()
            raise
        return collection

    def drop_collection(self, name: str) -> None:
        folder = self._dir(name)
        check_drop(name, self._aliases.aliases())
        self._pending(name)
        if not self.exists(name):
            raise NotFound(f"no collection named {name!r}")
        with _lock(folder, name):
            shutil.rmtree(folder / "shard", ignore_errors=True)
            (folder / LEGACY_CONFIG).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Nothing to release: each open collection holds its own shard and lock."""


@dataclass
class _Part:
    """One shard of a collection, and the lock its writes take (held through its index
    build, whose copy must see them all)."""

    number: int
    shard: Any
    writes: threading.RLock = field(default_factory=threading.RLock)

    @property
    def name(self) -> str:
        return part_name(self.number)


class EdgeCollection:
    """An open collection, held exclusively by this process until :meth:`close`: its shards
    (:mod:`lookalike.store.edge_parts`), the last of which takes new points."""

    def __init__(self, folder: Path, name: str, hnsw_threshold: int) -> None:
        self.name = name
        self.folder = folder
        self._lock_cm = _lock(folder, name)
        self._lock_cm.__enter__()
        self._parts: list[_Part] = []
        try:
            recover_parts(folder)  # what a process killed during a build or a creation left
            for number in part_numbers(folder):
                shard = _call(qe.EdgeShard.load, str(folder / part_name(number)))
                self._parts.append(_Part(number, shard))
            self._config = self._read_config()
        except BaseException:
            for part in self._parts:
                part.shard.close()
            self._lock_cm.__exit__(None, None, None)
            raise
        self._vector_count = max(1, len(self._config.get("vectors", [])))
        self.hnsw_threshold = int(self._config.get("hnsw_threshold", hnsw_threshold))
        layout = self._config.get("layout") or {}
        self.shard_points = int(layout.get("shard_points") or EdgeLayout.shard_points)
        self._closed = False
        self._parts_lock = threading.Lock()
        """Held while the last shard is chosen or a new one is opened."""
        self._full: list[_Part] = []
        """Full shards whose index waits to be built, while the next one fills: one at a time,
        by :attr:`_builder`, so builds never pile up in memory nor share the cores."""
        self._builder: threading.Thread | None = None
        self.space = FreeSpace(folder, 0)
        """Set by the store that opens the collection: the reserve checked before writes."""
        self.params: qe.SearchParams | None = None
        """Set by the store that opens the collection: how nearest-neighbour searches run."""
        self._ordered: set[str] = set()
        """Fields known to have a range index."""

    @property
    def _first(self) -> _Part:
        """The shard holding the configuration point."""
        return self._parts[0]

    def _read_config(self) -> dict[str, Any]:
        if not self._parts or self._parts[0].number != 0:
            raise NotFound(f"collection {self.name!r} has lost its first shard")
        records = _call(self._first.shard.retrieve, [_META_POINT], True, False)
        if records:
            config: dict[str, Any] = dict(records[0].payload or {}).get(_CONFIG) or {}
            return config
        legacy = self.folder / LEGACY_CONFIG
        if legacy.is_file():  # schema version 1
            old: dict[str, Any] = json.loads(legacy.read_text())
            return old
        raise NotFound(
            f"collection {self.name!r} is incomplete (its creation was interrupted): "
            "drop it and create it again"
        )

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        if not points:
            return
        self.space.check()
        rest = [(point_id(p.id), p) for p in points]
        while rest:
            part, room = self._filling()
            chunk, rest = rest[:room], rest[room:]
            with part.writes:
                self._upsert(part, chunk)
            older = [p for p in self._parts if p.number < part.number]
            # New version first, then the old one goes: a crash between leaves two versions
            # (reads keep the newer), never none.
            for holder, held in self._holding([pid for pid, _ in chunk], older):
                with holder.writes:
                    _call(holder.shard.update, qe.UpdateOperation.delete_points(held))

    def _upsert(self, part: _Part, points: Sequence[tuple[str, StoredPoint]]) -> None:
        edge_points = [
            qe.Point(
                pid,
                {k: _to_edge(v) for k, v in p.vectors.items()},
                {**p.payload, "id": p.id},
            )
            for pid, p in points
        ]
        _call(part.shard.update, qe.UpdateOperation.upsert_points(edge_points))

    def _filling(self) -> tuple[_Part, int]:
        """The shard new points go to and how many more it takes: the last, or a new one once
        the last is full (whose index is then built in the background)."""
        with self._parts_lock:
            last = self._parts[-1]
            held = self._counts(last)[0]
            if held < self.shard_points:
                return last, self.shard_points - held
            part = self._open_part(last.number + 1)
            self._parts = [*self._parts, part]
            if held >= self.hnsw_threshold:
                self._full.append(last)
                if self._builder is None:
                    self._builder = threading.Thread(target=self._seal, name=f"index {self.name}")
                    self._builder.start()
            return part, self.shard_points

    def _open_part(self, number: int) -> _Part:
        """A new, empty shard with the collection's configuration and payload indexes."""
        name = part_name(number)
        partial = self.folder / f"{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        vectors = [VectorSpec(**v) for v in self._config.get("vectors", [])]
        layout = EdgeLayout(**(self._config.get("layout") or {}))
        shard = _call(
            qe.EdgeShard.create, str(partial), _edge_config(vectors, layout, self.hnsw_threshold)
        )
        schema_now = _call(self._first.shard.info).payload_schema or {}
        try:
            # (shards made before indexed the ids as keywords too: never as datetimes)
            _index_fields(shard, {*self._ordered, *schema_now} - {ID, *KEYWORD_INDEXED})
            shard.flush()
        finally:
            shard.close()
        os.replace(partial, self.folder / name)
        return _Part(number, _call(qe.EdgeShard.load, str(self.folder / name)))

    def _seal(self) -> None:
        """Build the full shards' indexes in turn; a build that fails leaves its shard searched
        exactly, and :meth:`maintain` tries again."""
        while True:
            with self._parts_lock:
                if not self._full:
                    self._builder = None  # under the lock: a shard filled now starts another
                    return
                part = self._full.pop(0)
            try:
                self._build(part)
            except Exception:
                logging.getLogger("lookalike.store").exception(
                    "the index build of %s/%s failed; it is searched exactly until the next one",
                    self.name,
                    part.name,
                )

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            wanted = [point_id(i) for i in ids]
            for part, held in self._holding(wanted):
                with part.writes:
                    _call(part.shard.update, qe.UpdateOperation.delete_points(held))

    def _holding(
        self, wanted: list[str], parts: Sequence[_Part] | None = None
    ) -> list[tuple[_Part, list[Any]]]:
        """The shards (of ``parts``, by default all) holding any of the ``wanted`` points,
        with those they hold: a write then touches only them, and waits for no other shard's
        index build. Finding them is a read, which a build does not hold up."""
        if parts is None and len(self._parts) == 1:
            return [(self._parts[0], list(wanted))]
        out = []
        for part in self._parts if parts is None else parts:
            held = [str(r.id) for r in _call(part.shard.retrieve, wanted, False, False)]
            if held:
                out.append((part, held))
        return out

    def retrieve(
        self, ids: Sequence[str], *, with_vectors: WithVectors = False
    ) -> list[StoredPoint]:
        if not ids:
            return []
        wanted = [point_id(i) for i in ids]
        found = [
            _call(part.shard.retrieve, wanted, True, vector_selection(with_vectors))
            for part in self._parts
        ]
        return [_stored(r) for r in merge_records(found, lambda r: str(r.id))]

    def set_payload(self, ids: Sequence[str], payload: dict[str, Any]) -> None:
        if not ids:
            return
        self.space.check()
        for part, held in self._holding([point_id(i) for i in ids]):
            with part.writes:
                _call(part.shard.update, qe.UpdateOperation.set_payload(held, payload))

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
        return self.search_batch(
            [query],
            limit=limit,
            filter=filter,
            with_vectors=with_vectors,
            score_thresholds=[score_threshold],
            full_payload=full_payload,
        )[0]

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
        parts = self._parts
        thresholds = list(score_thresholds or [None] * len(queries))
        one = len(parts) == 1
        requests = [
            _request(q, limit, filter, threshold, with_vectors, self.params, full_payload, one)
            for q, threshold in zip(queries, thresholds, strict=True)
        ]
        if one:
            found = _call(parts[0].shard.query_batch, qe.QueryBatchRequest(requests))
            return [[_hit(p) for p in points] for points in found]
        # Several shards: each gives its best ``limit`` by id and score only, and the payloads
        # (the costly part of a hit to bring into Python) are read for the winners alone.
        batch = qe.QueryBatchRequest(requests)
        per_part = [_call(part.shard.query_batch, batch) for part in parts]
        winners = [top_points(lists, limit) for lists in zip(*per_part, strict=True)]
        wanted: dict[int, set[str]] = {}
        for best in winners:
            for part, point in best:
                wanted.setdefault(part, set()).add(str(point.id))
        selector = _payload_without(search_leaves_out(full_payload))
        vectors = vector_selection(with_vectors)
        records = {
            str(r.id): r
            for part, ids in wanted.items()
            for r in _call(parts[part].shard.retrieve, sorted(ids), selector, vectors)
        }
        return [
            [
                _hit(records[str(point.id)], float(point.score))
                for _, point in best
                if str(point.id) in records  # deleted between the two reads
            ]
            for best in winners
        ]

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
        request = qe.ScrollRequest(
            offset=offset,
            limit=limit,
            filter=_filter(visible(filter)),
            with_payload=_payload_without(),
            with_vector=vector_selection(with_vectors),
        )
        pages = [_call(part.shard.scroll, request) for part in self._parts]
        records, next_offset = merge_scroll(pages, limit)
        return [_stored(r) for r in records], next_offset

    def scroll_ordered(
        self,
        order: Order,
        *,
        filter: Node | None = None,
        limit: int = 256,
        start: int | None = None,
    ) -> list[tuple[int, StoredPoint]]:
        self._range_index(order.field)
        direction = qe.Direction.Desc if order.descending else qe.Direction.Asc
        begin = None if start is None else moment(start).isoformat()
        request = qe.ScrollRequest(
            limit=limit,
            filter=_filter(visible(filter)),
            with_payload=_payload_without(),
            with_vector=False,
            order_by=qe.OrderBy(order.field, direction, start_from=begin),
        )
        found = [
            [(int(r.order_value), _stored(r)) for r in _call(part.shard.scroll, request)[0]]
            for part in self._parts
        ]
        return merge_ordered(found, limit, descending=order.descending)

    def _range_index(self, field: str) -> None:
        """Index ``field`` as a datetime if the shards do not yet (collections made before
        sorting existed): one pass over the payloads, once."""
        if field in self._ordered:
            return
        for part in self._parts:
            with part.writes:
                if field not in (_call(part.shard.info).payload_schema or {}):
                    op = qe.UpdateOperation.create_field_index(field, _DATETIME_INDEX)
                    _call(part.shard.update, op)
        self._ordered.add(field)

    def count(self, filter: Node | None = None) -> int:
        request = qe.CountRequest(exact=True, filter=_filter(visible(filter)))
        return sum(int(_call(part.shard.count, request)) for part in self._parts)

    def sample(self, limit: int, *, filter: Node | None = None) -> list[StoredPoint]:
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Sample.Random,
            filter=_filter(visible(filter)),
            with_payload=_payload_without(),
            with_vector=False,
        )
        found = [[_stored(p) for p in _call(part.shard.query, request)] for part in self._parts]
        points = merge_records(found, lambda p: p.id)
        return points if len(found) == 1 else random.sample(points, min(limit, len(points)))

    def status(self) -> IndexStatus:
        points = indexed = 0
        for part in self._parts:
            held, graphed = self._counts(part)
            points += held
            indexed += min(held, graphed)  # a deleted point's vectors stay in the graph
        return IndexStatus(points, indexed)

    def _counts(self, part: _Part) -> tuple[int, int]:
        """Points in a shard (less the configuration point) and points in its HNSW graph."""
        info = _call(part.shard.info)
        held = int(info.points_count) - (1 if part.number == 0 else 0)
        return held, int(info.indexed_vectors_count) // self._vector_count

    def _needs_index(self, part: _Part) -> bool:
        held, graphed = self._counts(part)
        return held >= self.hnsw_threshold and held - graphed >= self.hnsw_threshold // 10

    def maintain(self, announce: Announce | None = None) -> bool:
        """Build the HNSW graph of each shard where enough points await it, in a child process
        on a copy of the shard, then swap the copy in (see :mod:`lookalike.store.edge_build`):
        searches go on meanwhile, writes to that shard wait. Waits first for the builds of full
        shards started while an ingest filled the next."""
        builder = self._builder
        waiting = builder is not None and builder.is_alive()
        if waiting and announce is not None:
            announce("building index")
        if builder is not None:
            builder.join()
        built = False
        for part in self._parts:
            if self._needs_index(part):
                if announce is not None and not (built or waiting):
                    announce("building index")
                built = self._build(part) or built
        return built or waiting

    def _build(self, part: _Part) -> bool:
        with part.writes:
            # No flush first (it holds the interpreter lock too): the log and the segments on
            # disk are a consistent state that the child's load replays.
            shard_dir = self.folder / part.name
            building = self.folder / f"{part.name}.building"
            retired = self.folder / f"{part.name}.retired"
            shutil.rmtree(retired, ignore_errors=True)
            copy_shard(shard_dir, building)
            try:
                built = optimize_in_child(building)
            except BaseException:
                shutil.rmtree(building, ignore_errors=True)
                raise
            read_ahead(building)
            old = part.shard
            shard_dir.rename(retired)
            building.rename(shard_dir)
            part.shard = _call(qe.EdgeShard.load, str(shard_dir))
        # A search that read ``part.shard`` just before the swap may still be inside the old
        # shard: close it a little later, never under a running query.
        threading.Timer(_RETIRE_AFTER, _retire, (old, retired)).start()
        return built

    def flush(self) -> None:
        for part in self._parts:
            _call(part.shard.flush)

    def config(self) -> dict[str, Any]:
        return dict(self._config)

    def update_config(
        self, changes: dict[str, Any], *, expect: int | None = None
    ) -> dict[str, Any]:
        # This process holds the collection's lock: its copy of the configuration is the
        # store's. The write waits for an index build of the first shard, whose copy of the
        # shard must see it.
        first = self._first
        with first.writes:
            if expect is not None and revision(self._config) != expect:
                raise stale(self.name, expect, revision(self._config))
            config = merge_config(self._config, changes)
            _write_meta(first.shard, config)
            _call(first.shard.flush)
            (self.folder / LEGACY_CONFIG).unlink(missing_ok=True)
            self._config = config
        return dict(config)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with self._parts_lock:
                self._full.clear()  # builds not started wait for the next open's maintain()
            builder = self._builder
            if builder is not None:
                builder.join()
            for part in self._parts:
                part.shard.flush()
                part.shard.close()
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


_RETIRE_AFTER = 5.0


def _has_shard(folder: Path) -> bool:
    # ``shard.retired`` alone: a process was killed between the two renames of an index build's
    # swap; opening the collection puts it back.
    return (folder / "shard").is_dir() or (folder / "shard.retired").is_dir()


def _retire(shard: Any, folder: Path) -> None:
    try:
        write_back(folder)
        shard.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
        if "not initialized" in text:  # closed under a request: dropped, or the store closing
            raise NotFound(
                "the collection was closed while this request used it (dropped, or the "
                "server stopping)"
            ) from exc
        raise StoreUnavailable(f"store error: {text}") from exc


def _filter(node: Node | None) -> qe.Filter | None:
    return to_edge_filter(node, point_id=point_id)


def _edge_config(
    vectors: Sequence[VectorSpec], layout: EdgeLayout, hnsw_threshold: int
) -> qe.EdgeConfig:
    """The configuration of each shard of a collection."""
    max_dim = max((v.size for v in vectors if not v.sparse), default=1)
    return qe.EdgeConfig(
        vectors={
            v.name: qe.EdgeVectorParams(
                size=v.size,
                distance=_DISTANCE[v.distance],
                multivector_config=(
                    qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim) if v.multivector else None
                ),
                memory=qe.Memory.Cold if layout.on_disk else None,
            )
            for v in vectors
            if not v.sparse
        },
        quantization_config=(
            qe.ScalarQuantizationConfig(
                qe.ScalarType.Int8, quantile=_QUANTILE, memory=qe.Memory.Pinned
            )
            if layout.quantization
            else None
        ),
        sparse_vectors={
            v.name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf) for v in vectors if v.sparse
        },
        hnsw_config=qe.HnswIndexConfig(layout.hnsw_m, layout.hnsw_ef_construct, _FULL_SCAN_KB),
        optimizers=qe.EdgeOptimizersConfig(
            indexing_threshold=max(1, hnsw_threshold * max_dim * 4 // 1024)
        ),
        max_search_threads=_SEARCH_THREADS,
    )


def _index_fields(shard: Any, datetimes: Iterable[str] = ()) -> None:
    """The payload indexes of a new shard: the keyword and datetime fields, and ``datetimes``
    (fields sorted by since the collection was made)."""
    for name in KEYWORD_INDEXED:
        _call(shard.update, qe.UpdateOperation.create_field_index(name, _KEYWORD_INDEX))
    for name in sorted({*ORDER_INDEXED, *datetimes}):
        _call(shard.update, qe.UpdateOperation.create_field_index(name, _DATETIME_INDEX))


def _write_meta(shard: Any, config: dict[str, Any]) -> None:
    """Keep the configuration on the configuration point (no vectors: no search finds it)."""
    point = qe.Point(_META_POINT, {}, {_CONFIG: config})
    _call(shard.update, qe.UpdateOperation.upsert_points([point]))


def _payload_without(fields: Sequence[str] = RETRIEVE_ONLY) -> Any:
    """The payload without ``fields`` (by default the bulky ones scroll leaves out)."""
    return qe.PayloadSelector.Exclude(list(fields))


def _to_edge(vector: Vector | Sequence[float]) -> Any:
    if isinstance(vector, SparseVector):
        return qe.SparseVector(list(vector.indices), [float(x) for x in vector.values])
    if isinstance(vector, MultiVector):
        return [[float(x) for x in v] for v in vector.vectors]
    if isinstance(vector, list):
        return vector  # already what the shard takes: no copy (a million of them at ingest)
    return [float(x) for x in vector]


def _request(
    query: VectorQuery,
    limit: int,
    filter: Node | None,
    score_threshold: float | None,
    with_vectors: WithVectors,
    params: qe.SearchParams | None = None,
    full_payload: bool = False,
    payload: bool = True,
) -> qe.QueryRequest:
    """The store's request; without ``payload``, ids and scores only (nor vectors)."""
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
        filter=_filter(filter),
        score_threshold=score_threshold,
        with_payload=_payload_without(search_leaves_out(full_payload)) if payload else False,
        with_vector=vector_selection(with_vectors) if payload else False,
        params=params,
    )


def _hit(p: Any, score: float | None = None) -> Hit:
    """A hit from a scored point, or from a record and its ``score``."""
    payload = dict(p.payload or {})
    return Hit(
        id=str(payload.get("id")),
        score=float(p.score) if score is None else score,
        payload=payload,
        vectors=_vectors(p.vector),
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
