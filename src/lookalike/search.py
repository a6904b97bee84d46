"""Query planning: turn a query (image, text, id, vector, examples) into store searches and
calibrated results with per-signal scores."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lookalike import ranking
from lookalike.config import Settings
from lookalike.decode_workers import decode_plan
from lookalike.errors import BadInput, InvalidQuery, NotFound
from lookalike.filters import And, HasIds, Match, Node, Not, parse_filter
from lookalike.images import DecodedImage, decode
from lookalike.payload import GROUP
from lookalike.ranking import rank_key
from lookalike.scoring import Calibration, raw_threshold, reaches, reciprocal_rank_fusion
from lookalike.signals.base import Signal
from lookalike.signals.duplicate.copies import (
    CopyHit,
    CopyQuery,
    find_copies,
    image_copy_query,
    record_copy_query,
)
from lookalike.signals.faces import pick_face
from lookalike.signals.text.matches import CANDIDATES, find_text
from lookalike.sources import Fetcher, query_image_bytes
from lookalike.store.base import (
    CollectionStore,
    Hit,
    MultiVector,
    SparseVector,
    StoredPoint,
    Vector,
    VectorQuery,
)
from lookalike.types import QueryImage
from lookalike.types import SearchResult as SearchResult

MAX_TOP_K = 1000


@dataclass(frozen=True)
class Query:
    image: QueryImage | None = None
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
    face: int | None = None
    """Which face of the query image (or record) to search by, largest first from 0."""
    box: tuple[float, float, float, float] | None = None
    """(left, top, right, bottom) in pixels: search by the face this box covers most."""
    person: int | None = None
    """A person id: every image of that person (``faces`` signal)."""


class Searcher:
    def __init__(
        self,
        store: CollectionStore,
        signals: Sequence[Signal],
        settings: Settings,
        signal_named: Callable[[str], Signal],
        person_vector: Callable[[int], list[float]] | None = None,
    ) -> None:
        self.store = store
        self.signals = list(signals)
        self.settings = settings
        self.signal_named = signal_named
        self.person_vector = person_vector

    def search(self, q: Query) -> list[SearchResult]:
        _validate(q)
        fused = self._text_mode(q)
        if fused is not None:
            return self._text(q, fused=fused)
        kinds = [k for k in _KINDS if getattr(q, k) is not None]
        copy_query: CopyQuery | None = None
        outputs: dict[str, Any] = {}
        record: StoredPoint | None = None
        query_size = (1, 1)
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
            query_size = (decoded.width, decoded.height)
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
        node = parse_filter(q.filter)
        query_face: dict[str, Any] | None = None
        if primary.name == "faces":
            vectors, query_face, person = self._face_query(q, vectors, outputs, record, query_size)
            if person is not None:
                node = _and(node, person)
        elif q.face is not None or q.box is not None or q.person is not None:
            raise InvalidQuery("face, box and person need the faces signal")
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
        if exclude:
            node = _and(node, Not(HasIds(tuple(sorted(exclude)))))
        if primary.name == "duplicate" and copy_query is not None and vq.vector is not None:
            return self._copies(copy_query, node, q, vectors)
        raw = raw_threshold(calibration, q.threshold)
        if vq.vector is None:
            hits = _rescore(self._hits(vq, node, None, q.top_k, q.group), vq, raw)
        else:
            hits = self._hits(vq, node, raw, q.top_k, q.group)
        hits = [h for h in hits if reaches(calibration(h.score), q.threshold)]
        results = [
            self._result(h, primary.name, calibration, vectors, text=q.text is not None)
            for h in hits
        ]
        if primary.name == "faces":
            for r, h in zip(results, hits, strict=True):
                r.match = _face_match(h, vectors["faces"], q.person, query_face)
        return results

    def _face_query(
        self,
        q: Query,
        vectors: dict[str, Vector],
        outputs: Mapping[str, Any],
        record: StoredPoint | None,
        query_size: tuple[int, int],
    ) -> tuple[dict[str, Vector], dict[str, Any] | None, Node | None]:
        """The one face a face search looks for: a person's mean face, or a face of the query
        image or record (``face`` index, else the one ``box`` covers, else the largest)."""
        if q.positive or q.negative:
            raise InvalidQuery("positive and negative examples do not apply to face search")
        if q.person is not None:
            if self.person_vector is None:
                raise InvalidQuery("person search needs the collection's people")
            return (
                {**vectors, "faces": MultiVector([self.person_vector(q.person)])},
                None,
                Match("people", q.person),
            )
        if q.vector is not None:
            return {"faces": MultiVector([[float(x) for x in q.vector]])}, None, None
        if record is not None:
            boxes = [f["box"] for f in record.payload.get("faces") or []]
            stored = record.vectors.get("faces")
            rows = stored.vectors if isinstance(stored, MultiVector) else []
            size = (record.payload.get("width") or 1, record.payload.get("height") or 1)
            what = f"record {record.id!r}"
        else:
            found = outputs.get("faces") or []
            boxes = [list(f.box) for f in found]
            rows = [list(f.vector) for f in found]
            size = query_size
            what = "the query image"
        box = None
        if q.box is not None:
            w, h = size
            box = (q.box[0] / w, q.box[1] / h, q.box[2] / w, q.box[3] / h)
        i = pick_face(boxes, index=q.face, box=box, what=what)
        chosen = {"index": i, "box": boxes[i], "faces": len(boxes)}
        return {**vectors, "faces": MultiVector([rows[i]])}, chosen, None

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
                    if other is not None and not isinstance(other, SparseVector):
                        scores[s.name] = s.calibration(_cosine(vectors[s.name], other))
            results.append(SearchResult.of(c.id, c.score, c.payload, scores, match=c.match_dict()))
        return results

    def _text_mode(self, q: Query) -> bool | None:
        """None: not a text-signal search; else whether to fuse it with semantic search (a
        text query, no signal forced, a collection with both signals)."""
        names = {s.name for s in self.signals}
        if q.signal == "text":
            self.signal_named("text")
            return False
        if q.signal is None and q.text is not None and "text" in names:
            return "semantic" in names
        return None

    def _text(self, q: Query, *, fused: bool) -> list[SearchResult]:
        """Keyword search by the text signal; ``fused``: with semantic search, by reciprocal
        rank fusion (order), each result's ``score`` its best per-signal score."""
        if q.positive or q.negative or q.vector is not None or q.region is not None:
            raise InvalidQuery("the text signal takes a text, an image or a record id")
        node = parse_filter(q.filter)
        text = q.text
        if q.id is not None:
            record = self._records([q.id])[0]
            text = str(record.payload.get("ocr_text") or "")
            node = _and(node, Not(HasIds((q.id,))))
            if not text.strip():
                raise InvalidQuery(f"record {q.id!r} has no text to search with")
        elif q.image is not None:
            text = self._image_text(q.image)
        assert text is not None
        limit = q.top_k * (4 if q.group else 1)
        found = find_text(self.store, text, filter=node, limit=limit)
        results: dict[str, SearchResult] = {}
        for t in found:
            results[t.id] = SearchResult.of(
                t.id, t.score, t.payload, {"text": t.score}, match=t.match()
            )
        order = [t.id for t in found]
        if fused:
            semantic = self.search(
                replace(
                    q,
                    signal="semantic",
                    top_k=min(MAX_TOP_K, max(limit, CANDIDATES)),
                    threshold=None,
                    group=False,
                )
            )
            for r in semantic:
                if r.id in results:
                    results[r.id].scores["semantic"] = r.scores["semantic"]
                    results[r.id].score = max(results[r.id].scores.values())
                else:
                    results[r.id] = r
            fusion = reciprocal_rank_fusion([order, [r.id for r in semantic]])
            order = sorted(fusion, key=lambda i: rank_key(fusion[i], i))
        ranked = [results[i] for i in order]
        if q.threshold is not None:
            ranked = [r for r in ranked if reaches(r.score, q.threshold)]
        if q.group:
            best: dict[str, SearchResult] = {}
            for r in ranked:
                best.setdefault(group_key(r.id, {"group": r.group}), r)
            ranked = list(best.values())
        return ranked[: q.top_k]

    def _image_text(self, image: QueryImage) -> str:
        """The text OCR reads in a query image."""
        data, name = self._image_bytes(image)
        text_signal = self.signal_named("text")
        decoded = decode(
            data, name=name, min_side=text_signal.min_side, max_pixels=self.settings.max_pixels
        )
        text = "\n".join(line.text for line in text_signal.preparer(decoded))
        if not text.strip():
            raise InvalidQuery(f"no text found in the query image {name}")
        return text

    def _default_signal(self, q: Query) -> str:
        if q.person is not None:
            return "faces"
        names = [s.name for s in self.signals]
        return "semantic" if "semantic" in names or q.text is not None else names[0]

    def _hits(
        self, vq: VectorQuery, node: Node | None, threshold: float | None, top_k: int, group: bool
    ) -> list[Hit]:
        if not group:
            return ranking.search(
                self.store,
                vq,
                limit=top_k,
                filter=node,
                score_threshold=threshold,
                with_vectors=True,
            )
        limit = top_k * 4
        while True:
            hits = ranking.search(
                self.store,
                vq,
                limit=limit,
                filter=node,
                score_threshold=threshold,
                with_vectors=True,
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
                if (
                    s.name != primary
                    and s.name in vectors
                    and s.name in hit.vectors
                    and not isinstance(vectors[s.name], SparseVector)
                ):
                    scores[s.name] = s.calibration(_cosine(vectors[s.name], hit.vectors[s.name]))
        return SearchResult.of(hit.id, scores[primary], hit.payload, scores)

    def _image_vectors(
        self,
        image: QueryImage,
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
            if all(spec.sparse for spec in s.vector_specs()):
                continue  # fields only (moderation, exif) or sparse only (text): no image query
            outputs[s.name] = s.preparer(decoded)
            vectors.update(s.embed([outputs[s.name]])[0])
        return vectors, decoded, outputs

    def _image_bytes(self, image: QueryImage) -> tuple[bytes, str]:
        return image_bytes(image, self.settings)

    def _records(self, ids: list[str]) -> list[StoredPoint]:
        points = {p.id: p for p in self.store.retrieve(ids, with_vectors=True)}
        missing = [i for i in ids if i not in points]
        if missing:
            raise NotFound(f"no record {missing[0]!r} in this collection", detail={"ids": missing})
        return [points[i] for i in ids]

    def _record_vectors(self, ids: list[str]) -> list[dict[str, Vector]]:
        return [p.vectors for p in self._records(ids)]


def image_bytes(image: QueryImage, settings: Settings) -> tuple[bytes, str]:
    """A query image's bytes and a name for messages (see :func:`query_image_bytes`), a URL
    fetched under the settings' rules."""

    def fetch(url: str) -> bytes:
        with Fetcher(settings) as fetcher:
            return fetcher.fetch(url)

    return query_image_bytes(image, max_bytes=settings.max_image_bytes, fetch=fetch)


def group_key(record_id: str, payload: Mapping[str, Any]) -> str:
    """What ``group=True`` keeps one hit of: the product id, else the record itself."""
    return str(payload.get(GROUP) or f"id:{record_id}")


_KINDS = ("image", "text", "id", "vector", "person")


def _validate(q: Query) -> None:
    given = [k for k in _KINDS if getattr(q, k) is not None]
    if len(given) > 1:
        raise InvalidQuery(
            f"give one of image, text, id, vector or person, not {' and '.join(given)}"
        )
    if not given and not q.positive:
        raise InvalidQuery("give an image, a text, an id, a vector, a person or positive examples")
    if q.box is not None and q.region is not None:
        raise InvalidQuery("give a face box or a region, not both")
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
    return [
        h for h in ranking.best_first(hits) if raw_threshold is None or h.score >= raw_threshold
    ]


def _face_match(
    hit: Hit, query: Vector, person: int | None, query_face: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The record's face that matched (of ``person`` only, in a person search)."""
    stored = hit.vectors.get("faces")
    faces = hit.payload.get("faces") or []
    if not isinstance(stored, MultiVector) or not isinstance(query, MultiVector):
        return None
    sims = [
        (_cosine(query.vectors[0], row), i)
        for i, row in enumerate(stored.vectors)
        if i < len(faces) and (person is None or faces[i].get("person") == person)
    ]
    if not sims:
        return None
    sim, i = max(sims)
    match: dict[str, Any] = {
        "face": i,
        "box": faces[i].get("box"),
        "person": faces[i].get("person"),
        "similarity": round(sim, 6),
    }
    if query_face is not None:
        match["query_face"] = query_face
    return match


def _and(node: Node | None, extra: Node) -> Node:
    return extra if node is None else And((node, extra))


def _cosine(a: Vector | Sequence[float], b: Vector | Sequence[float]) -> float:
    """Cosine of two vectors; of two multivectors (faces), that of their closest pair."""
    if isinstance(a, MultiVector) or isinstance(b, MultiVector):
        rows_a = a.vectors if isinstance(a, MultiVector) else [a]
        rows_b = b.vectors if isinstance(b, MultiVector) else [b]
        return max(_cosine(x, y) for x in rows_a for y in rows_b)
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
