"""The vector-store seam: what the engine needs from a store, in lookalike's own terms.

Backends (``edge.py`` embedded, ``server.py`` a Qdrant server) translate these calls and the
neutral filter tree of :mod:`lookalike.filters`; nothing above this seam imports a store library.
What is not a backend's own business is the seam's: a collection's configuration and schema
version (``schema.py``), index upkeep behind one :meth:`CollectionStore.maintain` call, and
cursors that are opaque strings. ``tests/store`` holds the contract every backend passes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol

from lookalike.errors import BadInput, ConfigChanged
from lookalike.filters import And, HasIds, Node, Not
from lookalike.payload import COPY_ONLY, RETRIEVE_ONLY, THUMBNAIL

__all__ = [
    "COPY_ONLY",
    "RETRIEVE_ONLY",
    "THUMBNAIL",
    "CollectionStore",
    "Hit",
    "IndexStatus",
    "Order",
    "Store",
    "StoredPoint",
    "VectorQuery",
    "VectorSpec",
    "REVISION_KEY",
    "merge_config",
    "moment",
    "point_id",
    "revision",
    "scroll_all",
    "whole_pages",
    "validate_name",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_POINT_NAMESPACE = uuid.UUID("6b1f3c2e-8a4d-5e7f-9c0b-1d2e3f405162")


def point_id(record_id: str) -> str:
    """The store's point id for a user's record id: a UUID derived from it, stable forever."""
    return str(uuid.uuid5(_POINT_NAMESPACE, record_id))


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise BadInput(
            f"invalid collection name {name!r}: use 1-64 letters, digits, '_', '-', '.' or "
            "'@', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class VectorSpec:
    """One named vector of a collection; a sparse one is scored by dot product with IDF.

    A ``multivector`` holds several vectors per point (faces of one image), scored by MaxSim:
    a query of one vector scores a point by its most similar vector."""

    name: str
    size: int
    distance: Literal["cosine", "dot"] = "cosine"
    sparse: bool = False
    multivector: bool = False


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]


@dataclass(frozen=True)
class MultiVector:
    """Several vectors of one point (at least one), in the order the payload describes them."""

    vectors: list[list[float]]


Vector = list[float] | SparseVector | MultiVector

WithVectors = bool | Sequence[str]
"""Which vectors a read returns: all (``True``), none, or those named (a search asking for
the one it scores with costs less than one asking for all: each vector read becomes Python
objects while the store holds the interpreter lock)."""


def vector_selection(with_vectors: WithVectors) -> bool | list[str]:
    """``with_vectors`` as both backends take it (no names: no vectors)."""
    return with_vectors if isinstance(with_vectors, bool) else list(with_vectors) or False


@dataclass(frozen=True)
class Order:
    """Sort by the datetime payload field ``field``; newest first when ``descending``
    (:meth:`CollectionStore.scroll_ordered`; paged by :mod:`lookalike.store.ordering`)."""

    field: str
    descending: bool = True


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def check_offset(offset: str) -> str:
    """``offset`` if it is a point id as a page's ``next_offset`` gives it (a UUID written the
    canonical way: the stores' own parsers refuse other spellings that Python accepts)."""
    try:
        canonical = str(uuid.UUID(offset))
    except (ValueError, TypeError):
        canonical = None
    if canonical != offset:
        raise bad_cursor(offset)
    return offset


def bad_cursor(cursor: str, *, pages: str = "a previous page") -> BadInput:
    """The error for a paging cursor no page gave, worded for every caller: the REST and
    Python APIs hand a page's cursor out as ``next_offset`` and take it back as ``offset``;
    the CLI prints it as ``next_cursor`` and takes it back with ``--cursor``."""
    return BadInput(
        f"invalid cursor {cursor!r}: pass the cursor {pages} returned "
        "(its next_offset as offset; in the CLI, its next_cursor as --cursor)"
    )


def moment(micros: int) -> datetime:
    """The datetime of an order value (microseconds since the epoch, as the stores give)."""
    return _EPOCH + timedelta(microseconds=micros)


@dataclass
class StoredPoint:
    """A record as the store holds it: the user's id, named vectors, payload."""

    id: str
    payload: dict[str, Any]
    vectors: dict[str, Vector] = field(default_factory=dict)


@dataclass
class Hit:
    id: str
    score: float
    """The store's raw similarity for the vector searched (cosine)."""
    payload: dict[str, Any]
    vectors: dict[str, Vector] = field(default_factory=dict)


@dataclass(frozen=True)
class VectorQuery:
    """Nearest neighbours of ``vector``, or recommendation from positive/negative examples."""

    using: str
    vector: Sequence[float] | SparseVector | MultiVector | None = None
    positives: Sequence[Vector | Sequence[float]] = ()
    negatives: Sequence[Vector | Sequence[float]] = ()


@dataclass(frozen=True)
class IndexStatus:
    points: int
    """Records in the collection."""
    indexed: int
    """Records an approximate (HNSW) index covers; the rest are searched exactly."""


Announce = Callable[[str], None]
"""Called with the name of a long step (``"building index"``) before a backend runs it."""


class CollectionStore(Protocol):
    """One collection's points, and its configuration."""

    def upsert(self, points: Sequence[StoredPoint]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def retrieve(
        self, ids: Sequence[str], *, with_vectors: WithVectors = False
    ) -> list[StoredPoint]: ...

    def set_payload(self, ids: Sequence[str], payload: dict[str, Any]) -> None: ...

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
        """The nearest points; their payload without :data:`COPY_ONLY`'s fields unless
        ``full_payload`` (never with :data:`RETRIEVE_ONLY`'s)."""
        ...

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
        """Several searches planned as one pass; one hit list per query, in order.
        ``score_thresholds``: per query, the raw score below which hits are left out;
        ``full_payload`` as for :meth:`search`."""
        ...

    def scroll(
        self,
        *,
        filter: Node | None = None,
        limit: int = 256,
        offset: str | None = None,
        with_vectors: WithVectors = False,
    ) -> tuple[list[StoredPoint], str | None]: ...

    def scroll_ordered(
        self,
        order: Order,
        *,
        filter: Node | None = None,
        limit: int = 256,
        start: int | None = None,
    ) -> list[tuple[int, StoredPoint]]:
        """The first ``limit`` points holding ``order.field`` as a datetime, sorted by it, each
        with its value in microseconds since the epoch; equal values in any order, and no
        cursor: :func:`lookalike.store.ordering.ordered_page` pages with it. ``start``: begin
        at that value (included), read from the range index there: a filter alone would have
        the store skip every point before it."""
        ...

    def count(self, filter: Node | None = None) -> int: ...

    def sample(self, limit: int, *, filter: Node | None = None) -> list[StoredPoint]:
        """Up to ``limit`` points drawn at random among those matching ``filter``."""
        ...

    def status(self) -> IndexStatus: ...

    def maintain(self, announce: Announce | None = None) -> bool:
        """Upkeep after a run of writes, whatever the backend needs (the embedded store builds
        its HNSW graph once enough points await it; a server does its own); True if work ran."""
        ...

    def config(self) -> dict[str, Any]:
        """The collection's configuration (signals, model, vectors, people table, schema
        version), as kept in the store."""
        ...

    def update_config(
        self, changes: dict[str, Any], *, expect: int | None = None
    ) -> dict[str, Any]:
        """Set top-level keys of the collection's configuration (e.g. its people table), a key
        given ``None`` being removed (:func:`merge_config`); answers the whole new
        configuration, whose :data:`REVISION_KEY` is one more than before.

        Without ``expect`` the change is merged into the configuration as the store holds it
        now (a key another process changed meanwhile is kept). With ``expect`` it is made only
        if the configuration is still at that revision, else :class:`ConfigChanged`: what a
        read-modify-write of one key (the people table) needs when several processes share
        the store."""
        ...

    def close(self) -> None: ...


class Store(Protocol):
    """A place holding named collections."""

    url: str
    """The ``store`` setting that names this store (``edge``, a server URL, ...)."""

    def list_collections(self) -> list[str]: ...

    def create_collection(
        self, name: str, vectors: Sequence[VectorSpec], config: dict[str, Any]
    ) -> None:
        """Make an empty collection keeping ``config`` (with the current schema version)."""
        ...

    def open_collection(self, name: str) -> CollectionStore:
        """An existing collection, its schema brought up to date (:mod:`.schema`)."""
        ...

    def drop_collection(self, name: str) -> None: ...

    def aliases(self) -> dict[str, str]:
        """Every alias and the collection it names (:mod:`.aliases`)."""
        ...

    def set_alias(self, alias: str, target: str | None) -> None:
        """Create ``alias``, or switch it to ``target`` atomically; ``None`` removes it."""
        ...

    def resolve(self, name: str) -> str:
        """The collection a name given by a user stands for: an alias's target, else itself."""
        ...

    def adopt(self, name: str, target: str, keep_as: str) -> None:
        """Make collection ``name`` an alias of ``target``, the collection it was staying
        under the name ``keep_as`` (a plain collection's first reindex)."""
        ...

    def close(self) -> None: ...


META_ID = "\x00lookalike:collection"
"""Record id of the point keeping a collection's configuration in the store itself (no user
id starts with a NUL). Backends leave it out of every count, scroll and sample."""


REVISION_KEY = "revision"
"""Configuration key counting the configuration's writes (absent: 0); each backend sets it."""


def revision(config: dict[str, Any]) -> int:
    """The revision of a configuration as read (see :meth:`CollectionStore.update_config`)."""
    return int(config.get(REVISION_KEY, 0))


def merge_config(config: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``config`` with the top-level keys of ``changes`` set, those given ``None`` removed,
    and its revision one more (a revision in ``changes`` is not taken)."""
    changes = {k: v for k, v in changes.items() if k != REVISION_KEY}
    merged = {**config, **changes}
    out = {k: v for k, v in merged.items() if not (k in changes and changes[k] is None)}
    out[REVISION_KEY] = revision(config) + 1
    return out


def stale(name: str, expected: int, found: int) -> ConfigChanged:
    return ConfigChanged(
        f"the configuration of collection {name!r} changed since it was read (revision "
        f"{found}, not {expected}): another process wrote it; read it again and retry",
        detail={"collection": name, "expected": expected, "revision": found},
    )


def visible(filter: Node | None) -> Node:
    """``filter``, never matching the configuration point."""
    hide = Not(HasIds((META_ID,)))
    return hide if filter is None else And((filter, hide))


def scroll_all(
    store: CollectionStore,
    *,
    filter: Node | None = None,
    page: int = 256,
    with_vectors: WithVectors = False,
) -> Iterator[StoredPoint]:
    """Every point matching ``filter``, read ``page`` points at a time: whole-collection
    passes (pruning, copy grouping, face grouping) never hold the collection in memory."""
    for points in _scroll_pages(store, filter, page, with_vectors):
        yield from points


def whole_pages(store: CollectionStore, *, page: int = 256) -> Iterator[list[StoredPoint]]:
    """Every point whole, ``page`` points at a time in scroll order: its vectors and the bulky
    payload fields scroll leaves out (:data:`RETRIEVE_ONLY`), read by the ids a scroll gave."""
    for points in _scroll_pages(store, None, page, False):
        ids = [p.id for p in points]
        found = {p.id: p for p in store.retrieve(ids, with_vectors=True)}
        yield [found[i] for i in ids if i in found]  # one deleted meanwhile is gone


def _scroll_pages(
    store: CollectionStore, filter: Node | None, page: int, with_vectors: WithVectors
) -> Iterator[list[StoredPoint]]:
    offset: str | None = None
    while True:
        points, offset = store.scroll(
            filter=filter, limit=page, offset=offset, with_vectors=with_vectors
        )
        if points:
            yield points
        if offset is None:
            return
