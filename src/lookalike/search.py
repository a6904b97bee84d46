"""Query planning: turn a query (image, text, id, vector, examples) into store searches and
calibrated results with per-signal scores."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookalike.config import Settings
from lookalike.copies import (
    CopyHit,
    CopyQuery,
    find_copies,
    image_copy_query,
    record_copy_query,
)
from lookalike.errors import BadInput, InvalidQuery, NotFound
from lookalike.filters import And, HasIds, Node, Not, parse_filter
from lookalike.images import DecodedImage, decode
from lookalike.ingest import decode_plan
from lookalike.scoring import Calibration
from lookalike.signals.base import Signal
from lookalike.sources import Fetcher, read_file_bytes
from lookalike.store.base import (
    CollectionStore,
    Hit,
    SparseVector,
    StoredPoint,
    Vector,
    VectorQuery,
)

MAX_TOP_K = 1000


@dataclass(frozen=True)
class Query:
    image: bytes | str | os.PathLike[str] | None = None
    text: str | None = None
    id: str | None = None
    vector: Sequence[float] | None = None
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    region: tuple[float, float, float, float] | None = None
    """(left, top, right, bottom) in pixels of the query image."""
    filter: Mapping[str, Any] | str | None = None
    top_k: int = 10
    threshold: float | None = None
    signal: str | None = None
    group: bool = False


@dataclass
class SearchResult:
    id: str
    score: float
    source: str | None
    group: str | None
    metadata: dict[str, Any]
    scores: dict[str, float] = field(default_factory=dict)
    match: dict[str, Any] | None = None
    """For duplicate searches: inliers and the matched region in both images (normalised)."""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "score": round(self.score, 6),
            "source": self.source,
            "group": self.group,
            "metadata": self.metadata,
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
        }
        if self.match is not None:
            out["match"] = self.match
        return out


class Searcher:
    def __init__(
        self,
        store: CollectionStore,
        signals: Sequence[Signal],
        settings: Settings,
        signal_named: Callable[[str], Signal],
    ) -> None:
        self.store = store
        self.signals = list(signals)
        self.settings = settings
        self.signal_named = signal_named

    def search(self, q: Query) -> list[SearchResult]:
        _validate(q)
        kinds = [k for k in ("image", "text", "id", "vector") if getattr(q, k) is not None]
        copy_query: CopyQuery | None = None
        primary = self.signal_named(q.signal or self._default_signal(q))
        exclude = set(q.positive) | set(q.negative)
        calibration = primary.calibration
        if q.text is not None:
            if primary.name != "semantic":
                raise InvalidQuery("a text query needs the semantic signal")
            vectors = {"semantic": primary.embed_text(q.text)}  # type: ignore[attr-defined]
            calibration = primary.text_calibration  # type: ignore[attr-defined]
        elif q.image is not None:
            vectors, decoded, outputs = self._image_vectors(q.image, q.region)
            if "duplicate" in outputs:
                copy_query = image_copy_query(decoded, vectors)
        elif q.id is not None:
            record = self._records([q.id])[0]
            vectors = record.vectors
            exclude.add(q.id)
            copy_query = record_copy_query(record.payload, record.vectors)
        elif q.vector is not None:
            size = next(s.size for s in primary.vector_specs())
            if len(q.vector) != size:
                raise InvalidQuery(
                    f"vector has {len(q.vector)} numbers; {primary.name} needs {size}"
                )
            vectors = {primary.name: [float(x) for x in q.vector]}
        else:
            vectors = {}
        if kinds and primary.name not in vectors:
            raise InvalidQuery(f"the query gives no {primary.name} vector")
        if q.positive or q.negative:
            positives = [v[primary.name] for v in self._record_vectors(list(q.positive))]
            negatives = [v[primary.name] for v in self._record_vectors(list(q.negative))]
            if primary.name in vectors:
                positives.insert(0, vectors[primary.name])
            if not positives:
                raise InvalidQuery("give a query or at least one positive example")
            vq = VectorQuery(using=primary.name, positives=positives, negatives=negatives)
        else:
            vq = VectorQuery(using=primary.name, vector=vectors[primary.name])
        node = parse_filter(q.filter)
        if exclude:
            node = _and(node, Not(HasIds(tuple(sorted(exclude)))))
        if primary.name == "duplicate" and copy_query is not None and vq.vector is not None:
            return self._copies(copy_query, node, q, vectors)
        raw_threshold = None if q.threshold is None else calibration.inverse(q.threshold)
        if vq.vector is None:
            hits = _rescore(self._hits(vq, node, None, q.top_k, q.group), vq, raw_threshold)
        else:
            hits = self._hits(vq, node, raw_threshold, q.top_k, q.group)
        return [
            self._result(h, primary.name, calibration, vectors, text=q.text is not None)
            for h in hits
        ]

    def _copies(
        self, cq: CopyQuery, node: Node | None, q: Query, vectors: Mapping[str, Vector]
    ) -> list[SearchResult]:
        """Duplicate search: store candidates verified by local features."""
        found = find_copies(
            self.store,
            cq,
            limit=q.top_k * (4 if q.group else 1),
            filter=node,
            threshold=q.threshold,
        )
        if q.group:
            best: dict[str, CopyHit] = {}
            for c in found:
                best.setdefault(group_key(c.id, c.payload), c)
            found = list(best.values())
        found = found[: q.top_k]
        others = [s for s in self.signals if s.name != "duplicate" and s.name in vectors]
        ids = [c.id for c in found] if others else []
        stored = {p.id: p for p in self.store.retrieve(ids, with_vectors=True)}
        results = []
        for c in found:
            scores = {"duplicate": c.score}
            point = stored.get(c.id)
            for s in others:
                if point is not None:
                    other = point.vectors.get(s.name)
                    if other is not None:
                        scores[s.name] = s.calibration(_cosine(vectors[s.name], other))
            p = c.payload
            results.append(
                SearchResult(
                    id=c.id,
                    score=c.score,
                    source=p.get("source"),
                    group=p.get("group"),
                    metadata=p.get("metadata") or {},
                    scores=scores,
                    match=c.match_dict(),
                )
            )
        return results

    def _default_signal(self, q: Query) -> str:
        names = [s.name for s in self.signals]
        return "semantic" if "semantic" in names or q.text is not None else names[0]

    def _hits(
        self, vq: VectorQuery, node: Node | None, threshold: float | None, top_k: int, group: bool
    ) -> list[Hit]:
        if not group:
            return self.store.search(
                vq, limit=top_k, filter=node, score_threshold=threshold, with_vectors=True
            )
        limit = top_k * 4
        while True:
            hits = self.store.search(
                vq, limit=limit, filter=node, score_threshold=threshold, with_vectors=True
            )
            best: dict[str, Hit] = {}
            for h in hits:  # best first, so the first of each group wins
                best.setdefault(group_key(h.id, h.payload), h)
            if len(best) >= top_k or len(hits) < limit or limit >= MAX_TOP_K * 10:
                return list(best.values())[:top_k]
            limit *= 4

    def _result(
        self,
        hit: Hit,
        primary: str,
        calibration: Calibration,
        vectors: Mapping[str, Sequence[float]],
        *,
        text: bool,
    ) -> SearchResult:
        scores = {primary: calibration(hit.score)}
        if not text:
            for s in self.signals:
                if s.name != primary and s.name in vectors and s.name in hit.vectors:
                    scores[s.name] = s.calibration(_cosine(vectors[s.name], hit.vectors[s.name]))
        p = hit.payload
        return SearchResult(
            id=hit.id,
            score=scores[primary],
            source=p.get("source"),
            group=p.get("group"),
            metadata=p.get("metadata") or {},
            scores=scores,
        )

    def _image_vectors(
        self,
        image: bytes | str | os.PathLike[str],
        region: tuple[float, float, float, float] | None,
    ) -> tuple[dict[str, Vector], DecodedImage, dict[str, Any]]:
        data, name = self._image_bytes(image)
        plan = decode_plan(self.signals, self.settings)
        decoded = decode(
            data, name=name, min_side=None if region else plan.min_side, max_pixels=plan.max_pixels
        )
        if region is not None:
            decoded = _crop(decoded, region, plan.min_side)
        vectors: dict[str, Vector] = {}
        outputs: dict[str, Any] = {}
        for s in self.signals:
            if not s.vector_specs():  # fields only (moderation, exif): nothing to search with
                continue
            outputs[s.name] = s.preparer(decoded)
            vectors.update(s.embed([outputs[s.name]])[0])
        return vectors, decoded, outputs

    def _image_bytes(self, image: bytes | str | os.PathLike[str]) -> tuple[bytes, str]:
        return image_bytes(image, self.settings)

    def _records(self, ids: list[str]) -> list[StoredPoint]:
        points = {p.id: p for p in self.store.retrieve(ids, with_vectors=True)}
        missing = [i for i in ids if i not in points]
        if missing:
            raise NotFound(f"no record {missing[0]!r} in this collection", detail={"ids": missing})
        return [points[i] for i in ids]

    def _record_vectors(self, ids: list[str]) -> list[dict[str, Vector]]:
        return [p.vectors for p in self._records(ids)]


def image_bytes(image: bytes | str | os.PathLike[str], settings: Settings) -> tuple[bytes, str]:
    """A query image's bytes and a name for messages: bytes as given, a URL fetched, a path read."""
    if isinstance(image, bytes):
        return image, "<query image>"
    text = os.fspath(image)
    if text.startswith(("http://", "https://")):
        with Fetcher(settings) as fetcher:
            return fetcher.fetch(text), text
    path = Path(text)
    if not path.is_file():
        raise NotFound(f"query image {text} does not exist")
    return read_file_bytes(path, max_bytes=settings.max_image_bytes), text


def group_key(record_id: str, payload: Mapping[str, Any]) -> str:
    """What ``group=True`` keeps one hit of: the product id, else the record itself."""
    return str(payload.get("group") or f"id:{record_id}")


def _validate(q: Query) -> None:
    given = [k for k in ("image", "text", "id", "vector") if getattr(q, k) is not None]
    if len(given) > 1:
        raise InvalidQuery(f"give one of image, text, id or vector, not {' and '.join(given)}")
    if not given and not q.positive:
        raise InvalidQuery("give an image, a text, an id, a vector or positive examples")
    if q.text is not None and not q.text.strip():
        raise InvalidQuery("the text query is empty")
    if not 1 <= q.top_k <= MAX_TOP_K:
        raise InvalidQuery(f"top_k must be between 1 and {MAX_TOP_K}")
    if q.threshold is not None and not 0.0 <= q.threshold <= 1.0:
        raise InvalidQuery("threshold is a score between 0 and 1")


def _rescore(hits: list[Hit], vq: VectorQuery, raw_threshold: float | None) -> list[Hit]:
    """Give recommendation hits a cosine score: the store ranks them by its own best-score rule,
    whose numbers are not cosines. A hit nearer to a negative example than to every positive
    scores -1 (0 on the shared scale)."""
    for h in hits:
        vector = h.vectors.get(vq.using)
        if vector is None:
            continue
        best = max(_cosine(p, vector) for p in vq.positives)
        worst = max((_cosine(n, vector) for n in vq.negatives), default=-1.0)
        h.score = best if best >= worst else -1.0
    hits.sort(key=lambda h: h.score, reverse=True)
    return [h for h in hits if raw_threshold is None or h.score >= raw_threshold]


def _and(node: Node | None, extra: Node) -> Node:
    return extra if node is None else And((node, extra))


def _cosine(a: Vector | Sequence[float], b: Vector | Sequence[float]) -> float:
    if isinstance(a, SparseVector) or isinstance(b, SparseVector):
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _crop(decoded: Any, region: tuple[float, float, float, float], min_side: int) -> Any:
    from dataclasses import replace

    left, top, right, bottom = region
    img = decoded.image
    if not (0 <= left < right <= img.width and 0 <= top < bottom <= img.height):
        raise BadInput(f"region {region} is not inside the query image ({img.width}x{img.height})")
    cropped = img.crop((int(left), int(top), int(math.ceil(right)), int(math.ceil(bottom))))
    scale = min_side / min(cropped.size)
    if scale < 1:
        size = (max(1, round(cropped.width * scale)), max(1, round(cropped.height * scale)))
        cropped = cropped.resize(size)
    return replace(decoded, image=cropped, width=cropped.width, height=cropped.height)
