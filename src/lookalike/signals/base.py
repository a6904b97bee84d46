"""The common protocol of signals: one way of seeing an image, on ingest and on search.

Ingest works in two stages so that the pipeline can spread them well: ``preparer`` is a plain
module-level function run in the decode worker processes on each decoded image (cheap per-image
CPU work; its result is pickled back), and :meth:`Signal.embed` runs in the main process on a
batch of prepared values (model inference, batched).

Search asks the signal itself: :meth:`Signal.search` takes a :class:`SignalQuery` (the query,
its filter, its image decoded and embedded on demand) and answers records best first, scored
on the shared scale and explained (``match``). ``takes`` says which kinds of query it answers,
``text_calibration`` whether and how it scores a text query. The searcher composes signals and
fuses them; it never tests a signal's name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from lookalike.errors import InvalidQuery
from lookalike.images import DecodedImage
from lookalike.scoring import Calibration
from lookalike.store.base import Vector, VectorSpec

if TYPE_CHECKING:
    from lookalike.signals.query import Found, SignalQuery

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
