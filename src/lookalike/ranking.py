"""Deterministic ranking: equal scores are ordered by record id, wherever results are ordered.

A store orders equal scores by its own internal offsets, which follow the order records were
written in (a parallel ingest makes that vary between two runs), and cuts a tie at its limit
wherever that falls. So every ranked read here asks past its limit until the cut falls between
two different scores, then orders by score (best first) and record id, and cuts itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from lookalike.filters import Node
from lookalike.stages import stage
from lookalike.store.base import CollectionStore, Hit, VectorQuery, WithVectors


class Ranked(Protocol):
    """Anything ranked: a store hit, a copy, a text match, a result."""

    @property
    def id(self) -> str: ...

    @property
    def score(self) -> float: ...


R = TypeVar("R", bound=Ranked)

MAX_WIDEN = 1024
"""Most hits one read asks for to take a whole tie in: past it a tie of more records than this
at the cut is cut where the store cuts it."""


def rank_key(score: float, record_id: str) -> tuple[float, str]:
    """Sort key: higher score first, then the smaller record id."""
    return (-score, record_id)


def best_first(items: Iterable[R]) -> list[R]:
    """``items`` ordered by score, best first, ties by record id."""
    return sorted(items, key=lambda item: rank_key(item.score, item.id))


def search(
    store: CollectionStore,
    query: VectorQuery,
    *,
    limit: int,
    filter: Node | None = None,
    score_threshold: float | None = None,
    with_vectors: WithVectors = False,
    full_payload: bool = False,
) -> list[Hit]:
    """The store's best ``limit`` hits for ``query``, ties at the cut settled by record id."""
    asked = limit + 1
    while True:
        with stage("store"):
            hits = store.search(
                query,
                limit=asked,
                filter=filter,
                score_threshold=score_threshold,
                with_vectors=with_vectors,
                full_payload=full_payload,
            )
        if _settled(hits, limit, asked):
            return best_first(hits)[:limit]
        asked = min(asked * 2, MAX_WIDEN)


def search_batch(
    store: CollectionStore,
    queries: Sequence[VectorQuery],
    *,
    limit: int,
    filter: Node | None = None,
    with_vectors: WithVectors = False,
    settle_from: Sequence[float | None] | None = None,
    score_thresholds: Sequence[float | None] | None = None,
    full_payload: bool = False,
) -> list[list[Hit]]:
    """:func:`search` for several queries in one pass; a query whose cut falls in a tie is
    asked again, alone, wider.

    ``score_thresholds``: per query, the raw score below which hits are left out.

    ``settle_from``: per query, the raw score below which a tie at the cut is left out whole
    instead of read wider (thousands of records tie at a middling Hamming distance in a large
    collection: not worth a wider read, and the part of them the store returns depends on the
    order they were written in); None settles every tie."""
    with stage("store"):
        batch = store.search_batch(
            queries,
            limit=limit + 1,
            filter=filter,
            with_vectors=with_vectors,
            score_thresholds=score_thresholds,
            full_payload=full_payload,
        )
    floors = list(settle_from) if settle_from is not None else [None] * len(queries)
    thresholds = list(score_thresholds or [None] * len(queries))
    out = []
    for query, hits, floor, threshold in zip(queries, batch, floors, thresholds, strict=True):
        if _settled(hits, limit, limit + 1):
            out.append(best_first(hits)[:limit])
        elif floor is not None and hits[limit - 1].score < floor:
            tie = hits[limit - 1].score
            out.append(best_first(h for h in hits if h.score > tie))
        else:
            out.append(
                search(
                    store,
                    query,
                    limit=limit,
                    filter=filter,
                    score_threshold=threshold,
                    with_vectors=with_vectors,
                    full_payload=full_payload,
                )
            )
    return out


def _settled(hits: Sequence[Hit], limit: int, asked: int) -> bool:
    """Whether every hit tied with the last one kept is among ``hits`` (store order: best
    first): fewer came than asked, or the last one is below the cut, or no wider read is
    allowed."""
    if len(hits) < asked or asked >= MAX_WIDEN or limit == 0:
        return True
    return hits[-1].score < hits[limit - 1].score
