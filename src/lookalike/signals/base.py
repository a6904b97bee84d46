"""The common protocol of signals: one way of seeing an image, on ingest and on search.

Ingest works in two stages so that the pipeline can spread them well: ``preparer`` is a plain
module-level function run in the decode worker processes on each decoded image (cheap per-image
CPU work; its result is pickled back), and :meth:`Signal.embed` runs in the main process on a
batch of prepared values (model inference, batched).

Search asks the signal itself: :meth:`Signal.search` takes a :class:`SignalQuery` (the query,
its filter, its image decoded and embedded on demand) and answers records best first, scored
on the shared scale and explained (``match``). ``takes`` says which kinds of query it answers,
``text_calibration`` whether and how it scores a text query. The searcher composes signals and
fuses them; it never tests a signal's name. The protocol and the query it is handed name each
other, so they live together; the vector search most signals share is in
:mod:`lookalike.signals.nearest`.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import Any, Protocol

from lookalike.config import Settings
from lookalike.errors import BadInput, InvalidQuery, NotFound
from lookalike.filters import Node, parse_filter
from lookalike.images import DecodedImage, decode
from lookalike.priority import BackgroundPool
from lookalike.scoring import Calibration
from lookalike.stages import stage
from lookalike.store.base import CollectionStore, StoredPoint, Vector, VectorSpec

Preparer = Callable[[DecodedImage], Any]

QUERY_KINDS = frozenset({"image", "text", "id", "vector", "examples", "person", "face"})
"""What a query can search by: ``examples`` are positive and negative records, ``face`` a face
index or box in the query image, ``person`` a person id."""


class Signal(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def min_side(self) -> int:
        """The shorter-edge size (pixels) the signal needs; images are decoded no larger."""
        ...

    @property
    def preparer(self) -> Preparer: ...

    @property
    def calibration(self) -> Calibration: ...

    @property
    def model_id(self) -> str | None:
        """What produced the vectors; a change means the records must be re-indexed."""
        ...

    def vector_specs(self) -> list[VectorSpec]: ...

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        """Named vectors for each prepared image, in order."""
        ...

    def payload(self, prepared: Any) -> dict[str, Any]:
        """Payload fields the signal keeps for one image (e.g. keypoints)."""
        ...

    # query side -------------------------------------------------------------------------

    @property
    def takes(self) -> frozenset[str]:
        """The kinds of query (:data:`QUERY_KINDS`) the signal answers; empty: it is not
        searched (its fields are for filters)."""
        ...

    @property
    def text_calibration(self) -> Calibration | None:
        """How a text query's raw similarity maps to the shared scale; None: no text query."""
        ...

    def search(self, query: SignalQuery, limit: int) -> list[Found]:
        """At most ``limit`` records best first (ties by id), each reaching the query's
        threshold, with every signal's score the query allows and the match explained."""
        ...

    def score_vectors(self, query: SignalQuery) -> dict[str, Vector]:
        """The query image's vectors by which another signal's search scores its results in
        this signal's breakdown: those it has anyway or gets cheaply; none when they would
        cost work the search does not need (a face detector run)."""
        ...


def own_side(signal: Signal) -> int | None:
    """The shorter edge a signal decodes its own copy of each image at, when it needs more
    pixels than the shared decode (``min_side``) gives the others: the text signal, whose small
    text needs them, while faces or keypoints on that many pixels would cost several times more.
    None: the signal reads the shared image."""
    side = getattr(signal, "own_side", None)
    return side if isinstance(side, int) else None


def direct_side(signal: Signal) -> int | None:
    """The shorter edge of a copy the signal reads resized straight from the decoded pixels
    rather than from the shared image (the semantic signal's tower input, in collections
    made since that exists); None: it reads the shared image."""
    side = getattr(signal, "direct_side", None)
    return side if isinstance(side, int) else None


def shared_side(signals: Sequence[Signal]) -> int:
    """The shorter edge of the image the signals share: the largest any of them needs."""
    return max(s.min_side for s in signals)


def direct_sides(signals: Sequence[Signal]) -> tuple[int, ...]:
    """The smaller images the signals read resized straight from the decoded pixels
    (``DecodedImage.direct``): a signal's ``direct_side`` below the shared image's edge (at
    or above it, the shared image is what it reads)."""
    shared = shared_side(signals)
    sides = {direct_side(s) for s in signals}
    return tuple(sorted(side for side in sides if side is not None and side < shared))


class FieldsOnly:
    """The query side of a signal that only adds payload fields (moderation, EXIF): it is
    used in filters and never searched by score."""

    name: str
    takes: frozenset[str] = frozenset()
    text_calibration: Calibration | None = None

    def score_vectors(self, query: SignalQuery) -> dict[str, Vector]:
        return {}

    def search(self, query: SignalQuery, limit: int) -> list[Found]:
        raise InvalidQuery(
            f"the {self.name} signal is not searched by score: filter by its fields instead"
        )


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
        return self._decoded_at(shared_side(self.signals), direct_sides(self.signals))

    def decoded_yet(self) -> DecodedImage | None:
        """The shared image if the query has decoded it already, else None (not decoding it)."""
        decoded: DecodedImage | None = self.__dict__.get("decoded")
        return decoded

    def reads_direct(self, signal: Signal) -> bool:
        """Whether ``signal`` prepares the query image from its own copy resized straight from
        the decoded pixels (``direct_side``), the shared image being neither needed nor
        decoded already (then the shared decode's copy, the same pixels, is read)."""
        side = direct_side(signal)
        return (
            side is not None
            and side in direct_sides(self.signals)
            and self.query.region is None
            and self.decoded_yet() is None
        )

    def _decoded_at(self, side: int, direct: Sequence[int] = ()) -> DecodedImage:
        """The query image (its region) decoded at ``side``, for a signal with its own size."""
        data, name = self.image_bytes()
        region = self.query.region
        with stage("decode"):
            decoded = decode(
                data,
                name=name,
                min_side=None if region else side,
                max_pixels=self.settings.max_pixels,
                split=True,
                direct=() if region else direct,
            )
            return decoded if region is None else _crop(decoded, region, side)

    def _decoded_direct(self, side: int) -> DecodedImage:
        """The query image at the JPEG scale of the shared image, with ``side`` resized straight
        from it: the pixels an indexed image's ``direct`` copy has, without the shared resize."""
        data, name = self.image_bytes()
        with stage("decode"):
            return decode(
                data,
                name=name,
                draft_side=shared_side(self.signals),
                max_pixels=self.settings.max_pixels,
                split=True,
                direct=(side,),
            )

    def prepared(self, signal: Signal) -> Any:
        """``signal``'s preparation of the query image (e.g. the faces found), made once."""
        if signal.name not in self._prepared:
            side = own_side(signal)
            if side is not None and side > shared_side(self.signals):
                decoded = self._decoded_at(side)  # its own copy only, not the shared one too
            elif (direct := direct_side(signal)) is not None and self.reads_direct(signal):
                decoded = self._decoded_direct(direct)
            else:
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
        if not self.reads_direct(signal):
            self.decoded  # noqa: B018 - decoded once, here, before two threads read it
        work = contextvars.copy_context()
        return _beside().submit(work.run, self._score_vectors, others).result

    def _score_vectors(self, others: Sequence[Signal]) -> dict[str, Vector]:
        vectors: dict[str, Vector] = {}
        asked = [s for s in others if s.name in self.query.scores]
        for other in asked:  # first: what they decode, the others may score from
            vectors.update(other.score_vectors(self) or self.image_vectors(other))
        for other in others:
            if other not in asked:
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
    return BackgroundPool(32, thread_name_prefix="query-beside")


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
