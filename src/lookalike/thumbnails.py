"""Thumbnails for records indexed without one: what turning thumbnails on for an existing
collection runs (a backfill).

Images are not kept after indexing, so a thumbnail is made again from the record's recorded
source when it is still there (:func:`lookalike.reindex.recorded_item`, the rule a reindex
follows): a file, read only if ``open_file`` lets it (a server: under ``allowed_roots``), or an
http(s) URL fetched by the one fetcher, its address checks included. Uploaded images have no
source to go back to. The thumbnail is the one ingest makes (:func:`make_thumbnail`, same
decode size). Each record gets its outcome (:class:`ThumbnailOutcome`); none fails the run; a
rerun visits only the records still without a thumbnail.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path

from lookalike.config import Settings
from lookalike.decode_workers import DecodePlan, make_thumbnail
from lookalike.errors import FetchError, LookalikeError
from lookalike.fetch import Fetcher
from lookalike.filters import IsEmpty
from lookalike.payload import THUMBNAIL
from lookalike.reindex import recorded_item
from lookalike.sources import read_file_bytes
from lookalike.store.base import CollectionStore, StoredPoint, scroll_all
from lookalike.types import (
    MissingSource,
    Progress,
    ProgressCallback,
    ThumbnailOutcome,
    ThumbnailReport,
    ThumbnailStatus,
)

__all__ = ["OpenFile", "backfill_thumbnails", "local_file"]

OpenFile = Callable[[Path], Path]
"""Whether this process may read a recorded file: the path to read, or a raise saying why not
(:class:`lookalike.errors.ForbiddenPath`)."""

_GONE = frozenset({404, 410})
"""HTTP statuses that mean the image is no longer at its URL."""


def local_file(path: Path) -> Path:
    """The Python API's and CLI's rule: any file this user can read."""
    return path


def backfill_thumbnails(
    store: CollectionStore,
    plan: DecodePlan,
    settings: Settings,
    *,
    open_file: OpenFile = local_file,
    progress: ProgressCallback | None = None,
    fetcher: Fetcher | None = None,
) -> ThumbnailReport:
    """Make and keep the thumbnail of every record of ``store`` that has none (``plan``: the
    collection's decode plan, with its thumbnail side)."""
    start = time.perf_counter()
    without = IsEmpty(THUMBNAIL)
    report = ThumbnailReport(total=store.count(without))
    report.kept = store.count() - report.total

    def tell() -> None:
        if progress is not None:
            done = len(report.outcomes)
            total = max(report.total, done)  # records added meanwhile
            progress(Progress(total, done, report.made, report.failed, phase="thumbnails"))

    tell()
    fetch = fetcher or Fetcher(settings)
    try:
        for point in scroll_all(store, filter=without, page=64):
            outcome = _one(point, plan, settings, open_file, fetch)
            if outcome.status == "made":
                assert outcome.message is not None
                store.set_payload([point.id], {THUMBNAIL: outcome.message})
                outcome.message = None
            report.add(outcome)
            tell()
    finally:
        if fetcher is None:
            fetch.close()
    report.total = max(report.total, len(report.outcomes))
    report.seconds = time.perf_counter() - start
    return report


def _one(
    point: StoredPoint, plan: DecodePlan, settings: Settings, open_file: OpenFile, fetch: Fetcher
) -> ThumbnailOutcome:
    """The outcome of one record; a thumbnail made rides in ``message`` (base64) until kept."""
    item = recorded_item(point)
    if isinstance(item, MissingSource):
        return ThumbnailOutcome(item.id, "source_missing", item.source, item.code, item.message)
    try:
        if item.url is not None:
            data = fetch.fetch(item.url)
        else:
            assert item.path is not None
            data = read_file_bytes(open_file(item.path), max_bytes=settings.max_image_bytes)
        encoded = base64.b64encode(make_thumbnail(plan, data, item.source)).decode("ascii")
    except FetchError as exc:
        status = exc.detail.get("status") if isinstance(exc.detail, dict) else None
        gone: ThumbnailStatus = "source_missing" if status in _GONE else "failed"
        return ThumbnailOutcome(point.id, gone, item.source, exc.code, exc.message)
    except LookalikeError as exc:
        return ThumbnailOutcome(point.id, "failed", item.source, exc.code, exc.message)
    return ThumbnailOutcome(point.id, "made", item.source, message=encoded)
