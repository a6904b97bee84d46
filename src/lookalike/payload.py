"""The payload layout of a stored record: the field names every part of the core agrees on.

One point per record (DESIGN.md, "Data model in the store"). Filters address these fields by
name, ingest writes them, search and the engine read them, and every store backend indexes the
keyword ones; a change here is a change of the collection schema (``store.schema``).
"""

from __future__ import annotations

from typing import Final

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


KEYWORD_INDEXED: Final[tuple[str, ...]] = (ID, GROUP)
"""Fields every backend indexes as keywords (lookups by id, grouping)."""

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
