"""The vector search most signals share.

:func:`nearest` is the search of a dense signal: nearest neighbours of its query vector, or a
recommendation from positive and negative examples, calibrated, with the scores of the other
signals beside it. :func:`other_scores` adds those scores for a signal whose own search does not
return vectors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lookalike import ranking
from lookalike.errors import InvalidQuery
from lookalike.filters import And, HasIds, Node, Not
from lookalike.scoring import Calibration, raw_threshold, reaches
from lookalike.signals.base import KINDS, Found, Signal, SignalQuery
from lookalike.stages import stage
from lookalike.store.base import (
    CollectionStore,
    Hit,
    MultiVector,
    SparseVector,
    Vector,
    VectorQuery,
)


def nearest(
    query: SignalQuery,
    signal: Signal,
    vectors: dict[str, Vector],
    calibration: Calibration,
    limit: int,
    *,
    where: Node | None = None,
    others: bool = True,
    explain: Callable[[Hit], dict[str, Any] | None] | None = None,
) -> list[Found]:
    """``signal``'s search by its vector in ``vectors`` (or the query's examples), best first.

    ``where`` narrows the user's filter; ``others``: score the other signals whose vectors the
    query has; ``explain`` describes each match."""
    q = query.query
    name = signal.name
    given = any(getattr(q, k) is not None for k in KINDS)
    if given and name not in vectors:
        raise InvalidQuery(f"the query gives no {name} vector")
    weights: tuple[list[float], list[float]] = ([], [])
    if q.positive or q.negative:
        positives = [p.vectors[name] for p in query.records(q.positive)]
        negatives = [p.vectors[name] for p in query.records(q.negative)]
        weights = (
            [q.weights.get(i, 1.0) for i in q.positive],
            [q.weights.get(i, 1.0) for i in q.negative],
        )
        if name in vectors:
            positives.insert(0, vectors[name])
            weights[0].insert(0, 1.0)
        if not positives:
            raise InvalidQuery("give a query or at least one positive example")
        vq = VectorQuery(using=name, positives=positives, negatives=negatives)
    else:
        vq = VectorQuery(using=name, vector=vectors[name])
    node = query.filter if where is None else narrow(query.filter, where)
    exclude = set(q.positive) | set(q.negative) | ({q.id} if q.id is not None else set())
    if exclude:
        node = narrow(node, Not(HasIds(tuple(sorted(exclude)))))
    raw = raw_threshold(calibration, q.threshold)
    scored = [s for s in query.signals if s.name != name and s.name in vectors] if others else []
    wanted = [s.name for s in scored if not isinstance(vectors[s.name], SparseVector)]
    if vq.vector is None or explain is not None:  # rescored, or described, by its own vector
        wanted.insert(0, name)
    if vq.vector is None:
        weighted = any(w != 1.0 for side in weights for w in side)
        wider = limit * 4 if weighted else limit  # weights reorder the store's candidates
        candidates = _search(query.store, vq, node, None, wider, wanted)
        hits = _rescore(candidates, vq, raw, weights)[:limit]
    else:
        hits = _search(query.store, vq, node, raw, limit, wanted)
    found = []
    for hit in hits:
        score = calibration(hit.score)
        if not reaches(score, q.threshold):
            continue
        scores = {name: score}
        for s in scored:
            other = hit.vectors.get(s.name)
            if other is not None and not isinstance(vectors[s.name], SparseVector):
                scores[s.name] = s.calibration(cosine(vectors[s.name], other))
        match = explain(hit) if explain is not None else None
        found.append(Found(hit.id, score, hit.payload, scores, match))
    return found


def other_scores(
    query: SignalQuery, signal: Signal, vectors: dict[str, Vector], found: list[Found]
) -> None:
    """Add to each of ``found`` the scores of the other dense signals whose vectors the query
    has (read from the store), for a signal whose own search does not return vectors."""
    others = [
        s
        for s in query.signals
        if s.name != signal.name
        and s.name in vectors
        and not isinstance(vectors[s.name], SparseVector)
    ]
    ids = [f.id for f in found] if others else []
    with stage("store"):
        read = query.store.retrieve(ids, with_vectors=[s.name for s in others])
        stored = {p.id: p for p in read}
    for f in found:
        point = stored.get(f.id)
        if point is None:
            continue
        for s in others:
            other = point.vectors.get(s.name)
            if other is not None and not isinstance(other, SparseVector):
                f.scores[s.name] = s.calibration(cosine(vectors[s.name], other))


def _search(
    store: CollectionStore,
    vq: VectorQuery,
    node: Node | None,
    raw: float | None,
    limit: int,
    wanted: list[str],
) -> list[Hit]:
    """The store's hits with only the ``wanted`` vectors: a cheap query reads no more."""
    return ranking.search(
        store, vq, limit=limit, filter=node, score_threshold=raw, with_vectors=wanted
    )


def _rescore(
    hits: list[Hit],
    vq: VectorQuery,
    raw: float | None,
    weights: tuple[Sequence[float], Sequence[float]] = ((), ()),
) -> list[Hit]:
    """Give recommendation hits a cosine score: the store ranks them by its own best-score rule,
    whose numbers are not cosines. A hit scores its best weighted cosine to a positive example,
    divided by the largest positive weight (so with every weight 1, its best cosine); a hit whose
    weighted cosine to a negative example is higher scores -1 (0 on the shared scale)."""
    pos_w = list(weights[0]) or [1.0] * len(vq.positives)
    neg_w = list(weights[1]) or [1.0] * len(vq.negatives)
    top = max(pos_w)
    for h in hits:
        vector = h.vectors.get(vq.using)
        if vector is None:
            continue
        best = max(w * cosine(p, vector) for p, w in zip(vq.positives, pos_w, strict=True)) / top
        worst = max(
            (w * cosine(n, vector) / top for n, w in zip(vq.negatives, neg_w, strict=True)),
            default=-math.inf,
        )
        h.score = best if best >= worst else -1.0
    return [h for h in ranking.best_first(hits) if raw is None or h.score >= raw]


def narrow(node: Node | None, extra: Node) -> Node:
    """``node`` and ``extra`` both (``extra`` alone without ``node``)."""
    return extra if node is None else And((node, extra))


def cosine(a: Vector | Sequence[float], b: Vector | Sequence[float]) -> float:
    """Cosine of two vectors; of two multivectors (faces), that of their closest pair."""
    if isinstance(a, MultiVector) or isinstance(b, MultiVector):
        rows_a = a.vectors if isinstance(a, MultiVector) else [a]
        rows_b = b.vectors if isinstance(b, MultiVector) else [b]
        return max(cosine(x, y) for x in rows_a for y in rows_b)
    if isinstance(a, SparseVector) or isinstance(b, SparseVector):
        return 0.0
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"vectors of {x.size} and {y.size} dimensions")
    na, nb = float(np.sqrt(x @ x)), float(np.sqrt(y @ y))
    return float(x @ y) / (na * nb) if na and nb else 0.0
