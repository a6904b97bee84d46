"""Query planning: a query (image, text, id, vector, examples, person) is answered by one
signal's own search, or by several fused; results are grouped, cut and given their fields.

How each signal searches, scores and explains a match is the signal's (``signals/``); this
module composes them and never tests a signal's name."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lookalike.config import Settings
from lookalike.errors import BadInput, InvalidQuery
from lookalike.filters import parse_filter
from lookalike.payload import GROUP
from lookalike.ranking import rank_key
from lookalike.scoring import check_threshold, reaches, reciprocal_rank_fusion
from lookalike.signals import default_signal
from lookalike.signals.base import Found, Signal, SignalQuery
from lookalike.sources import Fetcher, query_image_bytes
from lookalike.store.base import CollectionStore
from lookalike.types import Example, QueryImage
from lookalike.types import SearchResult as SearchResult

MAX_TOP_K = 1000
FUSED_CANDIDATES = 50
"""Records each signal of a fused text search ranks at least: a record one signal ranks low
and the other high still fuses."""


@dataclass(frozen=True)
class Query:
    image: QueryImage | None = None
    text: str | None = None
    id: str | None = None
    vector: Sequence[float] | None = None
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    weights: Mapping[str, float] = field(default_factory=dict)
    """Weights of the examples that have one (1 otherwise); see :func:`examples`."""
    region: tuple[float, float, float, float] | None = None
    """(left, top, right, bottom) in pixels of the query image, or as fractions of its width
    and height when all four are at most 1."""
    filter: Mapping[str, Any] | str | None = None
    top_k: int = 10
    threshold: float | None = None
    signal: str | None = None
    group: bool = False
    group_score: str = "max"
    """How a group (product) scores from its photos: ``max`` (its best photo) or ``mean`` (the
    mean of its best ``group_top`` photos, a missing one counting 0); see docs/searching.md."""
    group_top: int = 3
    face: int | None = None
    """Which face of the query image (or record) to search by, largest first from 0."""
    box: tuple[float, float, float, float] | None = None
    """(left, top, right, bottom) in pixels: search by the face this box covers most."""
    person: int | None = None
    """A person id: every image of that person (``faces`` signal)."""
    scores: tuple[str, ...] = ()
    """Signals to score an image query's results by beside those that cost little (the faces
    signal's score needs a face detector run; the duplicate one, in a semantic search, the
    query's 512 px image)."""


class Searcher:
    """Runs a query: picks the signal (or the signals to fuse), lets it search, groups and
    cuts. It composes signals and never tests a signal's name."""

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
        unknown = sorted(set(q.scores) - {s.name for s in self.signals})
        if unknown:
            names = ", ".join(s.name for s in self.signals)
            raise InvalidQuery(
                f"scores: {unknown[0]!r} is not a signal of this collection ({names})"
            )
        readers = self._text_readers(q)
        if len(readers) > 1:
            return self._fused(q, readers)
        primary = readers[0] if readers else self._primary(q)
        query = self._query(q)
        if not q.group:
            found = primary.search(query, q.top_k)
            return [_result(f) for f in found[: q.top_k]]
        per_group = q.group_top if q.group_score == "mean" else 1
        limit = min(q.top_k * 4 * per_group, MAX_TOP_K * 10)
        while True:  # widen until enough groups, or nothing more to find
            found = primary.search(query, limit)
            best = _by_group(found, q)
            if len(best) >= q.top_k or len(found) < limit or limit >= MAX_TOP_K * 10:
                return [_result(f) for f in best[: q.top_k]]
            limit = min(limit * 4, MAX_TOP_K * 10)

    def _text_readers(self, q: Query) -> list[Signal]:
        """For a text query that names no signal: every signal that scores texts."""
        if q.text is None or q.signal is not None:
            return []
        return [s for s in self.signals if s.text_calibration is not None]

    def _primary(self, q: Query) -> Signal:
        """The signal named, else the default; refused when it cannot answer the query."""
        names = [s.name for s in self.signals]
        name = q.signal or default_signal(
            names, text=q.text is not None, person=q.person is not None
        )
        signal = self.signal_named(name)
        if (q.face is not None or q.box is not None or q.person is not None) and (
            "face" not in signal.takes
        ):
            raise InvalidQuery("face, box and person need the faces signal")
        if q.text is not None and signal.text_calibration is None:
            readers = [s for s in self.signals if s.text_calibration is not None]
            which = " or ".join(s.name for s in readers) or "semantic"
            raise InvalidQuery(f"a text query needs the {which} signal, not {signal.name}")
        return signal

    def _query(self, q: Query) -> SignalQuery:
        def read() -> tuple[bytes, str]:
            if q.image is None:
                raise InvalidQuery("the query has no image")
            return image_bytes(q.image, self.settings)

        return SignalQuery(
            q, self.store, self.signals, self.settings, read, person_vector=self.person_vector
        )

    def _fused(self, q: Query, readers: Sequence[Signal]) -> list[SearchResult]:
        """A text query answered by several signals (keywords in the image, the image's
        meaning): each ranks its candidates, reciprocal rank fusion orders them, and each
        result's ``score`` is its best per-signal score."""
        limit = q.top_k * (4 if q.group else 1)
        wide = min(MAX_TOP_K, max(limit, FUSED_CANDIDATES))
        query = self._query(replace(q, top_k=wide, threshold=None, group=False))
        merged: dict[str, Found] = {}
        rankings = []
        for signal in readers:
            found = signal.search(query, wide)
            rankings.append([f.id for f in found])
            for f in found:
                if f.id in merged:
                    kept = merged[f.id]
                    kept.scores.update(f.scores)
                    kept.match = kept.match or f.match
                else:
                    merged[f.id] = replace(f, scores=dict(f.scores))
        fusion = reciprocal_rank_fusion(rankings)
        ranked = [merged[i] for i in sorted(fusion, key=lambda i: rank_key(fusion[i], i))]
        for f in ranked:
            f.score = max(f.scores.values())
        ranked = [f for f in ranked if reaches(f.score, q.threshold)]
        if q.group:
            ranked = _by_group(ranked, q)
        return [_result(f) for f in ranked[: q.top_k]]


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


MAX_WEIGHT = 100.0


def examples(
    positive: Sequence[Example], negative: Sequence[Example]
) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, float]]:
    """Example ids and the weights given: each example is an id or ``{"id": ..., "weight":
    w}`` with ``0 < w <= 100`` (1 when left out). An id both positive and negative is refused."""
    weights: dict[str, float] = {}

    def ids(values: Sequence[Example], side: str) -> tuple[str, ...]:
        out = []
        for value in values:
            if isinstance(value, str):
                out.append(value)
                continue
            if not isinstance(value, Mapping) or set(value) - {"id", "weight"} or "id" not in value:
                raise BadInput(f'a {side} example is an id or {{"id": ..., "weight": ...}}')
            rid, weight = value["id"], value.get("weight", 1.0)
            if not isinstance(rid, str) or not rid:
                raise BadInput(f"a {side} example's id must be a non-empty string")
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or not math.isfinite(weight)
                or not 0 < weight <= MAX_WEIGHT
            ):
                raise BadInput(
                    f"example {rid!r}: weight must be a number above 0 and at most {MAX_WEIGHT:g}"
                )
            out.append(rid)
            if weight != 1:
                weights[rid] = float(weight)
        return tuple(out)

    pos, neg = ids(positive, "positive"), ids(negative, "negative")
    both = sorted(set(pos) & set(neg))
    if both:
        raise BadInput(f"example {both[0]!r} is both positive and negative")
    return pos, neg, weights


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
    if q.scores and q.image is None:
        raise InvalidQuery("scores applies to an image query")
    check_threshold(q.threshold)
    if q.group_score not in GROUP_SCORES:
        raise InvalidQuery(
            f"group_score must be one of {', '.join(GROUP_SCORES)}, not {q.group_score!r}"
        )
    if not 1 <= q.group_top <= MAX_GROUP_TOP:
        raise InvalidQuery(f"group_top must be between 1 and {MAX_GROUP_TOP}")
    parse_filter(q.filter)  # a bad filter is said before any record is read or image decoded


GROUP_SCORES = ("max", "mean")
MAX_GROUP_TOP = 50


def _by_group(found: Sequence[Found], q: Query) -> list[Found]:
    """One result per group, best first: the group's best record, scored by ``group_score``
    over its records in ``found`` (which is best first)."""
    groups: dict[str, list[Found]] = {}
    for f in found:
        groups.setdefault(group_key(f.id, f.payload), []).append(f)
    if q.group_score == "max":
        return [members[0] for members in groups.values()]
    scored = []
    for members in groups.values():
        score = sum(f.score for f in members[: q.group_top]) / q.group_top
        if reaches(score, q.threshold):
            scored.append(replace(members[0], score=score))
    return sorted(scored, key=lambda f: rank_key(f.score, f.id))


def _result(found: Found) -> SearchResult:
    return SearchResult.of(found.id, found.score, found.payload, found.scores, match=found.match)
