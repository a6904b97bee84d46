"""The shapes both sides of lookalike speak: results, reports, outcomes, progress, clusters,
people, and the allowed values of the options. The core returns them, the REST API writes them
as JSON, and the SDK rebuilds them from that JSON, so a program gets the same objects in process
and through a server. Only the standard library is imported here: the SDK loads this module
without the decoders and models of the core."""

from __future__ import annotations

import os
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar

from lookalike.errors import BadInput
from lookalike.payload import GROUP, METADATA, SOURCE

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "BackupReport",
    "MigrationReport",
    "COPY_THRESHOLD",
    "KEEP_RULES",
    "ON_DUPLICATE",
    "ON_UNSAFE",
    "PRECISIONS",
    "Cluster",
    "ClusterReport",
    "DuplicateNote",
    "Example",
    "Failure",
    "IngestReport",
    "Member",
    "MissingSource",
    "OnDuplicate",
    "OnUnsafe",
    "Outcome",
    "OutcomeStatus",
    "Person",
    "Precision",
    "Progress",
    "ProgressCallback",
    "QueryImage",
    "ReindexReport",
    "SearchResult",
    "ThumbnailOutcome",
    "ThumbnailReport",
    "ThumbnailStatus",
    "check_on_duplicate",
    "check_on_unsafe",
    "check_precision",
]

QueryImage: TypeAlias = "bytes | str | os.PathLike[str] | PILImage"
"""A query image: its bytes, a path, an http(s) URL, or a PIL image."""

Example: TypeAlias = "str | Mapping[str, Any]"
"""A positive or negative example: a record id, or ``{"id": ..., "weight": 2.0}``
(docs/searching.md, "Examples and their weights")."""

_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxdict, _SHORT.maxlist = 40, 40, 3, 4


def _fields(name: str, pairs: list[tuple[str, Any]]) -> str:
    """``Name(a=1, b='x')``, what a result shows in a shell: ids and paths whole, dicts and
    lists (metadata, match) cut short."""
    shown = [f"{k}={_show(v)}" for k, v in pairs]
    return f"{name}({', '.join(shown)})"


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str | int | float | None) else _SHORT.repr(value)


# options ------------------------------------------------------------------------------------

OnDuplicate = Literal["allow", "flag", "skip", "reject"]
ON_DUPLICATE: tuple[OnDuplicate, ...] = ("allow", "flag", "skip", "reject")
"""What an ingest does with an image that copies a record already there."""
OnUnsafe = Literal["allow", "flag", "reject"]
ON_UNSAFE: tuple[OnUnsafe, ...] = ("allow", "flag", "reject")
"""What a collection's ingests do with images the moderation signal finds unsafe."""
Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "int8")
"""How a collection's semantic model runs: ``fp32`` (the model as published) or ``int8`` (its
dynamically quantized copy: faster on CPU, vectors close to but not equal to fp32's)."""
SemanticInput = Literal["shared", "direct"]
SEMANTIC_INPUTS: tuple[SemanticInput, ...] = ("shared", "direct")
"""Where a collection's semantic tower input comes from (``SemanticSignal``): ``direct`` for
collections made now, ``shared`` for those made before (their config has no such key)."""
KEEP_RULES = ("original", "largest", "least-compressed", "oldest")
"""The named rules picking the record to keep in a duplicate cluster (besides ``FIELD:min|max``);
the first is the default."""
Region = tuple[float, float, float, float]
"""A part of an image: left, top, right, bottom as fractions of its width and height."""
COPY_THRESHOLD = 0.75
"""Duplicate scores at or above this mean "a copy" (unless configured): the calibration of
:mod:`lookalike.signals.duplicate.localfeatures.verification` puts 8 distinct inliers there,
twice the most any unrelated pair reached."""

_O = TypeVar("_O", bound=str)


def _one_of(option: str, value: Any, allowed: tuple[_O, ...]) -> _O:
    if value not in allowed:
        raise BadInput(f"{option} must be one of {', '.join(allowed)}, not {value!r}")
    return value  # type: ignore[no-any-return]


def check_on_duplicate(value: Any) -> OnDuplicate:
    """``value`` if it is an ``on_duplicate`` choice, else ``BadInput`` naming them."""
    return _one_of("on_duplicate", value, ON_DUPLICATE)


def check_on_unsafe(value: Any) -> OnUnsafe:
    """``value`` if it is an ``on_unsafe`` choice, else ``BadInput`` naming them."""
    return _one_of("on_unsafe", value, ON_UNSAFE)


def check_precision(value: Any) -> Precision:
    """``value`` if it is a ``precision`` choice, else ``BadInput`` naming them."""
    return _one_of("precision", value, PRECISIONS)


def check_semantic_input(value: Any) -> SemanticInput:
    """``value`` if it is a ``semantic_input`` choice, else ``BadInput`` naming them."""
    return _one_of("semantic_input", value, SEMANTIC_INPUTS)


# ingest -------------------------------------------------------------------------------------


@dataclass
class Failure:
    source: str
    code: str
    message: str


@dataclass
class DuplicateNote:
    source: str
    id: str
    duplicate_of: str
    score: float
    action: str


@dataclass
class UnsafeNote:
    source: str
    id: str
    nsfw: float
    action: str


OutcomeStatus = Literal["indexed", "skipped", "updated", "duplicate", "failed"]


@dataclass
class Outcome:
    """What became of one input item, so a caller can answer per item."""

    index: int
    """Position of the item in the run's input."""
    id: str | None
    """The record id (None when the item failed before it had one)."""
    source: str
    status: OutcomeStatus
    """``indexed`` (written), ``skipped`` (unchanged), ``updated`` (unchanged image, new
    metadata or group), ``duplicate`` (a copy left out by ``on_duplicate="skip"``), ``failed``."""
    code: str | None = None
    message: str | None = None
    duplicate_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "id": self.id, "status": self.status}
        if self.code is not None:
            out["error"] = {"code": self.code, "message": self.message}
        if self.duplicate_of is not None:
            out["duplicate_of"] = self.duplicate_of
        return out


@dataclass
class IngestReport:
    indexed: int = 0
    """New or changed images written to the store."""
    skipped: int = 0
    """Unchanged images (same content and model): nothing to do; and copies left out by
    ``on_duplicate="skip"`` (each also in ``duplicates``)."""
    updated: int = 0
    """Unchanged images whose metadata or group changed: payload rewritten."""
    pruned: int = 0
    failed: list[Failure] = field(default_factory=list)
    duplicates: list[DuplicateNote] = field(default_factory=list)
    """Images found to copy a record already there (``on_duplicate`` flag or skip)."""
    unsafe: list[UnsafeNote] = field(default_factory=list)
    """Images the moderation signal found unsafe and indexed (``on_unsafe`` flag)."""
    ms_per_image: dict[str, float] = field(default_factory=dict)
    """Time per image of ``decode`` and of each signal (its preparer in the decode workers plus
    its model calls in this process), in milliseconds."""
    seconds: float = 0.0
    index_built: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    """One per input item, in input order."""

    def __repr__(self) -> str:
        pairs: list[tuple[str, Any]] = [
            ("indexed", self.indexed),
            ("skipped", self.skipped),
            ("updated", self.updated),
        ]
        pairs += [(k, getattr(self, k)) for k in ("pruned",) if getattr(self, k)]
        pairs += [(k, len(getattr(self, k))) for k in ("failed", "duplicates", "unsafe")]
        pairs.append(("seconds", round(self.seconds, 3)))
        return _fields("IngestReport", pairs)

    @property
    def rate(self) -> float:
        return self.indexed / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "indexed": self.indexed,
            "skipped": self.skipped,
            "updated": self.updated,
            "pruned": self.pruned,
            "failed": [f.__dict__ for f in self.failed],
            "duplicates": [d.__dict__ for d in self.duplicates],
            "unsafe": [u.__dict__ for u in self.unsafe],
            "ms_per_image": dict(self.ms_per_image),
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.rate, 2),
            "index_built": self.index_built,
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    indexed: int
    failed: int
    phase: str = "indexing"
    """"indexing", or "building index" while the HNSW graph is built."""


ProgressCallback = Callable[[Progress], None]


# search -------------------------------------------------------------------------------------


@dataclass
class SearchResult:
    id: str
    score: float
    source: str | None
    group: str | None
    metadata: dict[str, Any]
    scores: dict[str, float] = field(default_factory=dict)
    match: dict[str, Any] | None = None
    """For duplicate searches: inliers and the matched region in both images (normalised); for
    face searches: the matched face (index, normalised box, person) and the query face; for
    text searches: the record's ``lines`` holding query words, with their boxes."""
    safe: bool | None = None
    """The moderation signal's verdict, when the collection has it: the page hides unsafe
    results behind a click rather than leaving every caller to look the records up."""

    @classmethod
    def of(
        cls,
        record_id: str,
        score: float,
        payload: Mapping[str, Any],
        scores: dict[str, float],
        *,
        match: dict[str, Any] | None = None,
    ) -> SearchResult:
        """A result for a stored record, its fields read from the record's payload."""
        return cls(
            id=record_id,
            score=score,
            source=payload.get(SOURCE),
            group=payload.get(GROUP),
            metadata=payload.get(METADATA) or {},
            safe=payload.get("safe"),
            scores=scores,
            match=match,
        )

    def __repr__(self) -> str:
        pairs: list[tuple[str, Any]] = [
            ("id", self.id),
            ("score", round(self.score, 4)),
            ("scores", {k: round(v, 4) for k, v in self.scores.items()}),
        ]
        for name in ("source", "group", "metadata", "match", "safe"):
            value = getattr(self, name)
            if value is not None and value != {}:
                pairs.append((name, value))
        return _fields("SearchResult", pairs)

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
        if self.safe is not None:
            out["safe"] = self.safe
        return out


# duplicates ---------------------------------------------------------------------------------


@dataclass
class Member:
    id: str
    source: str | None
    role: str
    """"keep" or "copy"."""
    score: float
    """The strongest link from this record to another in its cluster."""
    width: int | None = None
    height: int | None = None
    byte_size: int | None = None
    linked_to: str | None = None
    """The other record of that strongest link."""
    inliers: int | None = None
    """Keypoints verified by geometry on that link; None when the hashes alone decided."""
    hash_distance: int | None = None
    """Bits of 64 by which the two perceptual hashes differ (None: not among hash neighbours)."""
    region: Region | None = None
    """The part of this image that matched the other's on that link (None when the hashes
    alone decided)."""


@dataclass
class Cluster:
    keep: str
    members: list[Member] = field(default_factory=list)

    @property
    def copies(self) -> list[str]:
        return [m.id for m in self.members if m.role == "copy"]

    def __repr__(self) -> str:
        return _fields("Cluster", [("keep", self.keep), ("copies", self.copies)])


# people -------------------------------------------------------------------------------------


@dataclass
class Person:
    id: int
    name: str | None
    faces: int
    records: int
    sample: list[str] = field(default_factory=list)
    """A few ids of records showing the person."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "faces": self.faces,
            "records": self.records,
            "sample": self.sample,
        }


@dataclass
class ClusterReport:
    faces: int = 0
    """Faces looked at (pending ones, or all with ``full``)."""
    joined: int = 0
    """Faces that joined a person who existed before the run."""
    new_people: int = 0
    people: int = 0
    """People in the collection after the run."""
    seconds: float = 0.0

    def __repr__(self) -> str:
        return _fields("ClusterReport", list(self.to_dict().items()))

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


@dataclass
class MigrationReport:
    """What a copy between stores did (``migrate``, ``restore``)."""

    collection: str
    total: int
    """Points in the source."""
    copied: int
    """Points written by this run."""
    already_there: int
    """Points a previous, interrupted run had copied."""
    verified: int
    """Points of the random sample compared in both stores."""
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "seconds": round(self.seconds, 3)}


@dataclass
class BackupReport:
    """A backup file written (``backup``)."""

    collection: str
    file: str
    records: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class MissingSource:
    """A record a reindex could not carry: its source is gone or was never one to read again
    (uploaded bytes)."""

    id: str
    source: str | None
    code: str
    message: str


@dataclass
class ReindexReport:
    """What ``reindex`` did: ``name`` now stands for ``current``; ``previous`` is kept unless
    ``previous_dropped``."""

    name: str
    previous: str
    current: str
    records: int
    """Records of the previous version."""
    indexed: int
    """Records embedded into the new version by this run."""
    already_there: int
    """Records a previous, interrupted run had already built."""
    missing: list[MissingSource] = field(default_factory=list)
    people_carried: int = 0
    """Faces that kept their person (and so its name)."""
    previous_dropped: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = {**self.__dict__, "seconds": round(self.seconds, 3)}
        out["missing"] = [m.__dict__ for m in self.missing]
        return out


# thumbnails -------------------------------------------------------------------------------

ThumbnailStatus = Literal["made", "source_missing", "failed"]


@dataclass
class ThumbnailOutcome:
    """What making one record's thumbnail did. ``source_missing``: the file is gone, the URL
    answers 404/410, or the image was uploaded (no source to read again); ``failed``: the
    source is there but could not be read or decoded, or may not be read (``code`` says why)."""

    id: str
    status: ThumbnailStatus
    source: str | None = None
    code: str | None = None
    message: str | None = None


@dataclass
class ThumbnailReport:
    """What ``make_thumbnails`` did: records that had a thumbnail are ``kept`` and not
    visited; each visited one has its outcome."""

    total: int = 0
    """Records visited: those without a thumbnail."""
    made: int = 0
    source_missing: int = 0
    failed: int = 0
    kept: int = 0
    """Records that already had a thumbnail."""
    outcomes: list[ThumbnailOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, outcome: ThumbnailOutcome) -> None:
        self.outcomes.append(outcome)
        if outcome.status == "made":
            self.made += 1
        elif outcome.status == "source_missing":
            self.source_missing += 1
        else:
            self.failed += 1

    def to_dict(self) -> dict[str, Any]:
        out = {**self.__dict__, "seconds": round(self.seconds, 3)}
        out["outcomes"] = [o.__dict__ for o in self.outcomes]
        return out
