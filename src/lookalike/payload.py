"""The payload layout of a stored record: the field names every part of the core agrees on.

One point per record (DESIGN.md, "Data model in the store"). Filters address these fields by
name, ingest writes them, search and the engine read them, and every store backend indexes the
keyword ones; a change here is a change of the collection schema (``store.schema``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from lookalike.errors import BadInput

ID: Final = "id"
"""The user's record id (the point id is a UUID derived from it)."""
SOURCE: Final = "source"
"""Where the image came from: a path or URL, never needed again after indexing."""
PATH: Final = "path"
"""Absolute path of a file indexed from disk (pruning checks it still exists)."""
GROUP: Final = "group"
METADATA: Final = "metadata"
CONTENT_HASH: Final = "content_hash"
WIDTH: Final = "width"
HEIGHT: Final = "height"
FORMAT: Final = "format"
BYTE_SIZE: Final = "byte_size"
INDEXED_AT: Final = "indexed_at"
MODEL: Final = "model"
"""Id of the model that made the vectors: a model change is detected, never mixed silently."""
SIGNALS: Final = "signals"
"""Names of the signals that indexed the record."""
FILE_SIZE: Final = "file_size"
FILE_MTIME: Final = "file_mtime"
DUPLICATE_OF: Final = "duplicate_of"
FACES: Final = "faces"
THUMBNAIL: Final = "thumbnail"
"""The record's JPEG thumbnail (base64), in collections that keep one."""
KEYPOINTS: Final = "keypoints"
"""The duplicate signal's local features (base64, about 25 KB), read for verification."""

SIGNAL_FIELDS: Final[tuple[str, ...]] = (
    "ocr_text",
    "safe",
    "nsfw",
    "moderation",
    "exif",
    "objects",
)
"""Payload fields of optional signals a record shows when its collection has them."""

RETRIEVE_ONLY: Final[tuple[str, ...]] = (THUMBNAIL,)
"""Bulky fields that search and scroll leave out; a store's ``retrieve`` returns them. (The
keypoints are not among them: left out of a copy search's hits, its hash searches took 10.0 ms
against 10.9, and reading the verified candidates' keypoints by id cost 1.4 ms more; the other
searches leave them out: :data:`COPY_ONLY`.)"""

COPY_ONLY: Final[tuple[str, ...]] = (KEYPOINTS,)
"""Bulky fields only a copy search's verification reads: a search leaves them out of its hits
unless it asks for the full payload (``full_payload``), so the searches by text, id or meaning,
which a busy server answers most, do not turn them into Python objects under the interpreter
lock."""


def search_leaves_out(full_payload: bool = False) -> tuple[str, ...]:
    """The fields a search's hits leave out: :data:`RETRIEVE_ONLY`'s always, and
    :data:`COPY_ONLY`'s unless the search asks for the full payload."""
    return RETRIEVE_ONLY if full_payload else (*RETRIEVE_ONLY, *COPY_ONLY)


KEYWORD_INDEXED: Final[tuple[str, ...]] = (GROUP,)
"""Fields the embedded store indexes as keywords (grouping). Not the record id: a filter on it
becomes a lookup of the point ids derived from it, which needs no index, and an index of every
id was most of what closing a shard held the interpreter lock for (half of 0.2 s at 100,000
points). Shards made before keep theirs."""

ORDER_INDEXED: Final[tuple[str, ...]] = (INDEXED_AT, "exif.taken_at")
"""Datetime fields every backend range-indexes, so listings sort by them
(:mod:`lookalike.store.ordering`); collections made before are indexed on their first sort."""

FIELD_INDEXES: Final[dict[str, str]] = {
    ID: "keyword",
    GROUP: "keyword",
    "nsfw": "float",
    INDEXED_AT: "datetime",
    "exif.taken_at": "datetime",
    "exif.location": "geo",
}
"""Fields a server store indexes by kind, so filters on them stay fast on a large cluster (the
embedded store indexes the keyword ones; exact filters need no index to be right)."""

RECORD_FIELDS: Final[frozenset[str]] = frozenset(
    {
        ID,
        GROUP,
        SOURCE,
        CONTENT_HASH,
        PATH,
        FORMAT,
        WIDTH,
        HEIGHT,
        INDEXED_AT,
        MODEL,
        *SIGNAL_FIELDS,
        DUPLICATE_OF,
        METADATA,
        FACES,
        "people",
        "faces_pending",
    }
)
"""Top-level fields a filter addresses by name; every other key lives under ``metadata``."""


METADATA_DEPTH: Final = 32
"""Deepest nesting of objects and lists a record's metadata may have. The store refuses to read
back a payload nested past about 125 levels, which would leave the record unreadable and its
collection failing every search; no catalog needs more than a few."""
INT64_RANGE: Final = (-(2**63), 2**63 - 1)
"""The integers a store keeps as integers (signed 64-bit)."""


def check_metadata(metadata: Mapping[str, Any], what: str = "metadata") -> None:
    """Refuse metadata the store cannot keep as given, before anything is written: keys that
    are not strings, numbers that are not finite (NaN, Infinity) or integers beyond 64 bits
    (kept as floats, they would not read back as written), nesting deeper than
    :data:`METADATA_DEPTH`. Raises :class:`~lookalike.errors.BadInput` naming the place."""
    stack: list[tuple[Any, str, int]] = [(metadata, what, 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, Mapping):
            children = []
            for key, item in value.items():
                if not isinstance(key, str):
                    raise BadInput(f"{where}: key {key!r} is not a string")
                children.append((item, f"{where}.{key}"))
        elif isinstance(value, list | tuple):
            children = [(item, f"{where}[{n}]") for n, item in enumerate(value)]
        else:
            _check_scalar(value, where)
            continue
        if depth > METADATA_DEPTH:
            raise BadInput(f"{where}: nested deeper than {METADATA_DEPTH} levels")
        stack.extend((item, place, depth + 1) for item, place in children)


def _check_scalar(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
            raise BadInput(f"{where}: {value} does not fit in 64 bits (give it as a string)")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadInput(f"{where}: {value} is not a number the store can keep")
        return
    raise BadInput(f"{where}: a value of type {type(value).__name__} is not JSON")
