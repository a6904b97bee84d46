"""One query as the signals see it, and the vector search most signals share.

:class:`SignalQuery` holds a query with what signals search by: its parsed filter, the record
it names, and its image decoded and embedded on demand (once, and only by the signals that
search or score by it).
:func:`nearest` is the search of a dense signal: nearest neighbours of its query vector, or a
recommendation from positive and negative examples, calibrated, with the scores of the other
signals beside it. A signal's ``search`` answers :class:`Found` records, best first.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, Protocol

from lookalike import ranking
from lookalike.config import Settings
from lookalike.errors import BadInput, InvalidQuery, NotFound
from lookalike.filters import And, HasIds, Node, Not, parse_filter
from lookalike.images import DecodedImage, decode
from lookalike.scoring import Calibration, raw_threshold, reaches
from lookalike.stages import stage
from lookalike.store.base import (
    CollectionStore,
    Hit,
    MultiVector,
    SparseVector,
    StoredPoint,
    Vector,
    VectorQuery,
)

if TYPE_CHECKING:
    from lookalike.signals.base import Signal

KINDS = ("image", "text", "id", "vector", "person")
"""What a query searches by: one of them at most (or positive examples alone)."""


class QueryFields(Protocol):
    """The fields of a query that signals read (``lookalike.search.Query``)."""

    @property
    def image(self) -> Any: ...
    @property
    def text(self) -> str | None: ...
    @property
    def id(self) -> str | None: ...
    @property
    def vector(self) -> Sequence[float] | None: ...
    @property
    def positive(self) -> tuple[str, ...]: ...
    @property
    def negative(self) -> tuple[str, ...]: ...
    @property
    def weights(self) -> Mapping[str, float]: ...
    @property
    def region(self) -> tuple[float, float, float, float] | None: ...
    @property
    def filter(self) -> Any: ...
    @property
    def threshold(self) -> float | None: ...
    @property
    def face(self) -> int | None: ...
    @property
    def box(self) -> tuple[float, float, float, float] | None: ...
    @property
    def person(self) -> int | None: ...
    @property
    def scores(self) -> tuple[str, ...]: ...


@dataclass
class Found:
    """One record a signal found: its calibrated score (shared scale), every signal's score,
    and the signal's explanation of the match (face box, copy region, matched lines)."""

    id: str
    score: float
    payload: dict[str, Any]
    scores: dict[str, float] = field(default_factory=dict)
    match: dict[str, Any] | None = None


class SignalQuery:
    """A query, with what signals search by computed when first asked for."""

    def __init__(
        self,
        query: QueryFields,
        store: CollectionStore,
        signals: Sequence[Signal],
        settings: Settings,
        image_bytes: Callable[[], tuple[bytes, str]],
        person_vector: Callable[[int], list[float]] | None = None,
    ) -> None:
        self.query = query
        self.store = store
        self.signals = list(signals)
        self.settings = settings
        self.image_bytes = image_bytes
        """The query image's bytes and a name for messages (fetched or read on each call)."""
        self.person_vector = person_vector
        self._prepared: dict[str, Any] = {}
        self._vectors: dict[str, dict[str, Vector]] = {}

    @cached_property
    def filter(self) -> Node | None:
        """The user's filter, parsed."""
        return parse_filter(self.query.filter)

    @cached_property
    def record(self) -> StoredPoint | None:
        """The record an ``id`` query names, with its vectors."""
        return None if self.query.id is None else self.records([self.query.id])[0]

    def records(self, ids: Sequence[str]) -> list[StoredPoint]:
        """Records with their vectors, in order; a missing one is :class:`NotFound`."""
        with stage("store"):
            points = {p.id: p for p in self.store.retrieve(list(ids), with_vectors=True)}
        missing = [i for i in ids if i not in points]
        if missing:
            raise NotFound(f"no record {missing[0]!r} in this collection", detail={"ids": missing})
        return [points[i] for i in ids]

    @cached_property
    def decoded(self) -> DecodedImage:
        """The query image (its ``region`` only, when given), decoded at the size an indexed
        image is decoded at, so that its vectors are comparable with the stored ones."""
        data, name = self.image_bytes()
        min_side = max(s.min_side for s in self.signals)
        region = self.query.region
        with stage("decode"):
            decoded = decode(
                data,
                name=name,
                min_side=None if region else min_side,
                max_pixels=self.settings.max_pixels,
            )
            if region is not None:
                decoded = _crop(decoded, region, min_side)
        return decoded

    def prepared(self, signal: Signal) -> Any:
        """``signal``'s preparation of the query image (e.g. the faces found), made once."""
        if signal.name not in self._prepared:
            decoded = self.decoded
            with stage("embed"):
                self._prepared[signal.name] = signal.preparer(decoded)
        return self._prepared[signal.name]

    def image_vectors(self, signal: Signal) -> dict[str, Vector]:
        """``signal``'s vectors of the query image, computed once and only when asked for: a
        query pays for the signals it searches and scores by, never for the others."""
        if signal.name not in self._vectors:
            prepared = self.prepared(signal)
            with stage("embed"):
                self._vectors[signal.name] = signal.embed([prepared])[0]
        return self._vectors[signal.name]

    def score_vectors_soon(self, signal: Signal) -> Callable[[], dict[str, Vector]]:
        """Start computing, beside the caller, the query image's vectors by which the other
        dense signals score ``signal``'s results (see :meth:`vectors`); the function returned
        waits for them. The models and OpenCV release the interpreter lock, so a copy search's
        keypoints and the semantic embedding it also needs take one core each."""
        others = [
            s
            for s in self.signals
            if s.name != signal.name and not all(v.sparse for v in s.vector_specs())
        ]
        if not others:
            return dict
        self.decoded  # noqa: B018 - decoded once, here, before two threads read it
        work = contextvars.copy_context()
        return _beside().submit(work.run, self._score_vectors, others).result

    def _score_vectors(self, others: Sequence[Signal]) -> dict[str, Vector]:
        vectors: dict[str, Vector] = {}
        for other in others:
            if other.name in self.query.scores:
                vectors.update(self.image_vectors(other))
            else:
                vectors.update(other.score_vectors(self))
        return vectors

    def vectors(self, signal: Signal) -> dict[str, Vector]:
        """The query's vectors: for an image, ``signal``'s and those by which the other dense
        signals score cheaply (:meth:`Signal.score_vectors`) or that the query's ``scores``
        names; the record's for an id; the raw
        vector as ``signal``'s (checked against its size); none for other queries."""
        q = self.query
        if q.image is not None:
            others = self.score_vectors_soon(signal)
            return {**self.image_vectors(signal), **others()}
        if self.record is not None:
            return self.record.vectors
        if q.vector is not None:
            size = next(s.size for s in signal.vector_specs())
            if len(q.vector) != size:
                raise InvalidQuery(
                    f"vector has {len(q.vector)} numbers; {signal.name} needs {size}"
                )
            return {signal.name: [float(x) for x in q.vector]}
        return {}


@cache
def _beside() -> ThreadPoolExecutor:
    """Threads computing a query's other signals' vectors beside its own (one per query at
    most, so as many as queries run at once)."""
    return ThreadPoolExecutor(max_workers=32, thread_name_prefix="query-beside")


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
    if vq.vector is None:
        weighted = any(w != 1.0 for side in weights for w in side)
        wider = limit * 4 if weighted else limit  # weights reorder the store's candidates
        hits = _rescore(_search(query.store, vq, node, None, wider), vq, raw, weights)[:limit]
    else:
        hits = _search(query.store, vq, node, raw, limit)
    scored = [s for s in query.signals if s.name != name and s.name in vectors] if others else []
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
    others = [s for s in query.signals if s.name != signal.name and s.name in vectors]
    ids = [f.id for f in found] if others else []
    with stage("store"):
        stored = {p.id: p for p in query.store.retrieve(ids, with_vectors=True)}
    for f in found:
        point = stored.get(f.id)
        if point is None:
            continue
        for s in others:
            other = point.vectors.get(s.name)
            if other is not None and not isinstance(other, SparseVector):
                f.scores[s.name] = s.calibration(cosine(vectors[s.name], other))


def _search(
    store: CollectionStore, vq: VectorQuery, node: Node | None, raw: float | None, limit: int
) -> list[Hit]:
    return ranking.search(
        store, vq, limit=limit, filter=node, score_threshold=raw, with_vectors=True
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
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _crop(
    decoded: DecodedImage, region: tuple[float, float, float, float], min_side: int
) -> DecodedImage:
    left, top, right, bottom = region
    img = decoded.image
    if max(region) <= 1.0:  # fractions of the image
        left, right = left * img.width, right * img.width
        top, bottom = top * img.height, bottom * img.height
    if not (0 <= left < right <= img.width and 0 <= top < bottom <= img.height):
        raise BadInput(f"region {region} is not inside the query image ({img.width}x{img.height})")
    cropped = img.crop((int(left), int(top), int(math.ceil(right)), int(math.ceil(bottom))))
    scale = min_side / min(cropped.size)
    if scale < 1:
        size = (max(1, round(cropped.width * scale)), max(1, round(cropped.height * scale)))
        cropped = cropped.resize(size)
    return replace(decoded, image=cropped, width=cropped.width, height=cropped.height)
