"""The ingest pipeline: decode in worker processes while the model embeds, write in batches.

The decode workers are :mod:`lookalike.decode_workers`; the payload written is laid out by
:mod:`lookalike.payload`; this module runs one ingest and reports on it.

Flow for each item: a cheap unchanged-check (file size + mtime, else content hash, plus the
model) skips work already done; the rest is read and decoded at the smallest size the signals
need in a process pool (JPEG draft mode), prepared per signal there (hashes), embedded in batches
in this process, and upserted in batches. A record counts as indexed only once its batch is in
the store, so an interrupted run loses nothing it reported and a rerun resumes.
"""

from __future__ import annotations

import base64
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lookalike.config import Settings
from lookalike.decode_workers import (
    POOL_MIN_ITEMS,
    DecodePool,
    Inline,
    Prepared,
    decode_plan,
    pool_for,
    prepare,
)
from lookalike.errors import BadInput, Conflict, LookalikeError, UnsafeImage
from lookalike.payload import (
    BYTE_SIZE,
    CONTENT_HASH,
    DUPLICATE_OF,
    FILE_MTIME,
    FILE_SIZE,
    FORMAT,
    GROUP,
    HEIGHT,
    INDEXED_AT,
    METADATA,
    MODEL,
    PATH,
    SIGNALS,
    SOURCE,
    THUMBNAIL,
    WIDTH,
)
from lookalike.signals.base import Signal
from lookalike.sources import Fetcher, Item, ItemError
from lookalike.store.base import CollectionStore, StoredPoint, Vector, scroll_all
from lookalike.types import (
    DuplicateNote,
    Failure,
    OnUnsafe,
    Outcome,
    OutcomeStatus,
    UnsafeNote,
    check_on_unsafe,
)
from lookalike.types import IngestReport as IngestReport
from lookalike.types import OnDuplicate as OnDuplicate
from lookalike.types import Progress as Progress
from lookalike.types import ProgressCallback as ProgressCallback

DuplicateCheck = Callable[[str, dict[str, Any], dict[str, Any]], tuple[str, float] | None]
"""(record id, payload, vectors) -> (id of the record it copies, score) or None."""


class Ingest:
    """One ingest run into one collection."""

    def __init__(
        self,
        store: CollectionStore,
        signals: Sequence[Signal],
        settings: Settings,
        *,
        model_id: str | None,
        progress: ProgressCallback | None = None,
        on_duplicate: OnDuplicate = "allow",
        duplicate_check: DuplicateCheck | None = None,
        on_unsafe: OnUnsafe = "allow",
        thumbnails: bool = False,
        pool: DecodePool | None = None,
    ) -> None:
        """``pool``: decode workers shared with other runs, left running at the end."""
        if on_duplicate != "allow" and duplicate_check is None:
            raise BadInput("on_duplicate needs the duplicate signal in the collection")
        check_on_unsafe(on_unsafe)
        if on_unsafe != "allow" and not any(s.name == "moderation" for s in signals):
            raise BadInput("on_unsafe needs the moderation signal in the collection")
        self.on_unsafe = on_unsafe
        self.on_duplicate = on_duplicate
        self.duplicate_check = duplicate_check
        self.store = store
        self.signals = list(signals)
        self.settings = settings
        self.model_id = model_id
        self.plan = decode_plan(signals, settings, thumbnails=thumbnails)
        self.progress = progress
        self.report = IngestReport()
        self._batch: list[tuple[Item, Prepared, dict[str, Any] | None]] = []
        self._total = 0
        self._done = 0
        self._executor: Executor = Inline()
        self._shared = pool
        self._seen: dict[str, str] = {}
        """id -> source of every item taken in this run; a second item with an id fails."""
        self._worker_ms: dict[str, float] = {}
        self._worker_images = 0
        self._embed_ms: dict[str, float] = {}
        self._embed_images = 0
        self._write_ms = 0.0
        self._position: dict[int, int] = {}
        """id() of each input entry -> its index in the input, for the per-item outcomes."""

    def run(
        self, items: Sequence[Item | ItemError], *, prune_roots: Sequence[Path] = ()
    ) -> IngestReport:
        start = time.perf_counter()
        self._total = len(items)
        self._position = {id(entry): n for n, entry in enumerate(items)}
        todo = sum(isinstance(i, Item) for i in items)
        self._executor = pool_for(self.settings, todo, self._shared)
        window: deque[tuple[Item, bytes | None, Future[Prepared], dict[str, Any] | None]] = deque()
        max_inflight = max(2 * self.settings.batch_size, 8)
        try:
            with Fetcher(self.settings) as fetcher:
                for chunk in _chunks(items, 4 * self.settings.batch_size):
                    for item, data, existing in self._triage(chunk, fetcher):
                        window.append((item, data, self._submit(item, data), existing))
                        while len(window) >= max_inflight:
                            self._collect(*window.popleft())
                while window:
                    self._collect(*window.popleft())
                self._flush()
        finally:
            if self._shared is not None and isinstance(self._executor, ProcessPoolExecutor):
                for *_, future, _ in window:  # a failed run leaves nothing queued behind it
                    future.cancel()
            else:
                # wait=True: a pool left running races its own atexit hook (EBADF at exit)
                self._executor.shutdown(wait=True, cancel_futures=True)
            self.report.seconds = time.perf_counter() - start
            self.report.ms_per_image = self._ms_per_image()
            self.report.outcomes.sort(key=lambda o: o.index)
        if prune_roots:
            seen = {i.id for i in items if isinstance(i, Item)}
            self.report.pruned = self._prune(prune_roots, seen)
        self.report.index_built = self.store.maintain(self._emit)
        self.report.seconds = time.perf_counter() - start
        return self.report

    def _triage(
        self, chunk: Sequence[Item | ItemError], fetcher: Fetcher
    ) -> Iterable[tuple[Item, bytes | None, dict[str, Any] | None]]:
        """Items that need decoding, with their bytes when not read from a path by a worker."""
        ids = [i.id for i in chunk if isinstance(i, Item)]
        existing = {p.id: p.payload for p in self.store.retrieve(ids)}
        urls: dict[str, list[Item]] = {}
        for item in chunk:
            if isinstance(item, ItemError):
                self._fail(item, item.error)
                continue
            if item.id in self._seen:
                first = self._seen[item.id]
                message = f"id {item.id!r} is given twice in this run (first by {first})"
                self._fail(item, Conflict(message))
                continue
            self._seen[item.id] = item.source
            old = existing.get(item.id)
            if item.path is not None:
                try:
                    stat = item.path.stat()
                except OSError as exc:
                    reason = exc.strerror or type(exc).__name__
                    self._fail(item, BadInput(f"cannot read {item.path}: {reason}"))
                    continue
                if (
                    old is not None
                    and self._current(old)
                    and (
                        old.get(FILE_SIZE) == stat.st_size
                        and old.get(FILE_MTIME) == stat.st_mtime_ns
                    )
                ):
                    self._unchanged(item, old)
                    continue
                yield item, None, old
            elif item.url is not None:
                urls.setdefault(item.url, []).append(item)
            else:
                yield item, item.data, old
        for url, result in fetcher.fetch_many(list(urls)):
            for item in urls[url]:
                if isinstance(result, LookalikeError):
                    self._fail(item, result)
                else:
                    yield item, result, existing.get(item.id)

    def _current(self, payload: dict[str, Any]) -> bool:
        return payload.get(MODEL) == self.model_id and payload.get(SIGNALS) == [
            s.name for s in self.signals
        ]

    def _submit(self, item: Item, data: bytes | None) -> Future[Prepared]:
        """Queue one item for decoding; a pool broken by a crashed worker is replaced."""
        args = (self.plan, str(item.path) if data is None else None, data, item.source)
        try:
            return self._executor.submit(prepare, *args)
        except BrokenProcessPool:
            if self._shared is not None:
                self._executor = self._shared.replace(self._executor)
            else:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = pool_for(self.settings, POOL_MIN_ITEMS)
            return self._executor.submit(prepare, *args)

    def _collect(
        self,
        item: Item,
        data: bytes | None,
        future: Future[Prepared],
        old: dict[str, Any] | None,
        *,
        retried: bool = False,
    ) -> None:
        try:
            prepared = future.result()
        except LookalikeError as exc:
            self._fail(item, exc)
            return
        except BrokenProcessPool:
            # A worker died: this item, or another one in flight with it, crashed the decoder.
            # Each gets one more try in a fresh pool; what crashes twice is the culprit.
            if not retried:
                self._collect(item, data, self._submit(item, data), old, retried=True)
                return
            message = (
                f"{item.source}: the decoder crashed on this image (or the decode workers "
                "could not start)"
            )
            self._fail(item, LookalikeError(message))
            return
        except Exception as exc:  # a decoder bug must cost one item, not the run
            self._fail(item, LookalikeError(f"{item.source}: {type(exc).__name__}: {exc}"))
            return
        if not self._changed(item, prepared, old):
            return
        self._batch.append((item, prepared, old))
        if len(self._batch) >= self.settings.batch_size:
            self._flush()

    def _changed(self, item: Item, prepared: Prepared, old: dict[str, Any] | None) -> bool:
        """Count a prepared image's worker time; one whose content is already stored with
        this collection's model and signals is reported unchanged (``False``)."""
        self._worker_images += 1
        for name, ms in prepared.timings.items():
            self._worker_ms[name] = self._worker_ms.get(name, 0.0) + ms
        if (
            old is not None
            and self._current(old)
            and old.get(CONTENT_HASH) == prepared.content_hash
        ):
            self._unchanged(item, old, _file_stat(item))
            return False
        return True

    def _flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        vectors, timings = embed_batch(self.signals, [p for _, p, _ in batch])
        self.write(batch, vectors, timings)

    def write(
        self,
        batch: Sequence[tuple[Item, Prepared, dict[str, Any] | None]],
        vectors: Sequence[dict[str, Vector]],
        embed_ms: Mapping[str, float],
    ) -> None:
        """Build the records of one embedded batch and write them (``embed_ms``: model time
        spent on the batch, by signal)."""
        for name, spent in embed_ms.items():
            self._embed_ms[name] = self._embed_ms.get(name, 0.0) + spent
        self._embed_images += len(batch)
        now = datetime.now(timezone.utc).isoformat()
        points = [
            (item, StoredPoint(id=item.id, payload=self._payload(item, p, old, now), vectors=v))
            for (item, p, old), v in zip(batch, vectors, strict=True)
        ]
        points = [(item, point) for item, point in points if self._moderated(item, point)]
        if self.on_duplicate == "allow":
            start = time.perf_counter()
            self.store.upsert([point for _, point in points])
            self._write_ms += 1000 * (time.perf_counter() - start)
            for item, _ in points:
                self._outcome(item, "indexed")
            self.report.indexed += len(points)
            self._done += len(points)
            self._emit()
            return
        for item, point in points:
            self._add_checked(item, point)

    def _moderated(self, item: Item, point: StoredPoint) -> bool:
        """Whether an image may be written under ``on_unsafe``; a rejected one fails."""
        if self.on_unsafe == "allow" or point.payload.get("safe", True):
            return True
        nsfw = float(point.payload.get("nsfw", 0.0))
        if self.on_unsafe == "reject":
            message = f"{item.source}: refused as unsafe (nsfw {nsfw:.3f})"
            self._fail(item, UnsafeImage(message, detail={"nsfw": nsfw}))
            return False
        self.report.unsafe.append(UnsafeNote(item.source, item.id, nsfw, self.on_unsafe))
        return True

    def _ms_per_image(self) -> dict[str, float]:
        """Worker time per prepared image plus model time per embedded image, by stage, then
        the store's time per written image (``write``)."""
        names = ["decode", *(s.name for s in self.signals)]
        out: dict[str, float] = {}
        for name in names:
            ms = 0.0
            if self._worker_images:
                ms += self._worker_ms.get(name, 0.0) / self._worker_images
            if self._embed_images:
                ms += self._embed_ms.get(name, 0.0) / self._embed_images
            if self._worker_images or self._embed_images:
                out[name] = round(ms, 2)
        if self._embed_images:
            out["write"] = round(self._write_ms / self._embed_images, 2)
        return out

    def _add_checked(self, item: Item, point: StoredPoint) -> None:
        """Write one image unless it copies a record already there (written one at a time,
        so that a copy later in the same batch sees its original)."""
        assert self.duplicate_check is not None
        found = self.duplicate_check(item.id, point.payload, point.vectors)
        if found is not None:
            original, score = found
            if self.on_duplicate == "reject":
                message = f"{item.source} is a copy of {original!r} (score {score:.3f})"
                self._fail(item, Conflict(message, detail={"duplicate_of": original}), original)
                return
            self.report.duplicates.append(
                DuplicateNote(item.source, item.id, original, round(score, 6), self.on_duplicate)
            )
            if self.on_duplicate == "skip":
                self._outcome(item, "duplicate", duplicate_of=original)
                self.report.skipped += 1
                self._done += 1
                self._emit()
                return
            point.payload[DUPLICATE_OF] = {"id": original, "score": round(score, 6)}
        start = time.perf_counter()
        self.store.upsert([point])
        self._write_ms += 1000 * (time.perf_counter() - start)
        self._outcome(item, "indexed", duplicate_of=found[0] if found else None)
        self.report.indexed += 1
        self._done += 1
        self._emit()

    def _payload(
        self, item: Item, prepared: Prepared, old: dict[str, Any] | None, now: str
    ) -> dict[str, Any]:
        """The record's payload; a re-indexed image keeps metadata the input does not give."""
        old = old or {}
        return {
            SOURCE: item.source,
            PATH: str(item.path.resolve()) if item.path is not None else None,
            GROUP: item.group if item.group is not None else old.get(GROUP),
            METADATA: item.metadata or old.get(METADATA) or {},
            CONTENT_HASH: prepared.content_hash,
            WIDTH: prepared.width,
            HEIGHT: prepared.height,
            FORMAT: prepared.format,
            BYTE_SIZE: prepared.byte_size,
            INDEXED_AT: now,
            MODEL: self.model_id,
            SIGNALS: [s.name for s in self.signals],
            **_file_stat(item),
            **(
                prepared.payload
                if prepared.payload is not None
                else signal_payload(self.signals, prepared)
            ),
            **(
                {THUMBNAIL: base64.b64encode(prepared.thumbnail).decode("ascii")}
                if prepared.thumbnail is not None
                else {}
            ),
        }

    def _unchanged(
        self, item: Item, old: dict[str, Any], stat: dict[str, Any] | None = None
    ) -> None:
        changes: dict[str, Any] = dict(stat or {})
        if item.metadata and item.metadata != old.get("metadata"):
            changes["metadata"] = item.metadata
        if item.group is not None and item.group != old.get("group"):
            changes["group"] = item.group
        if {k for k in changes if k in ("metadata", "group")}:
            self._outcome(item, "updated")
            self.report.updated += 1
        else:
            self._outcome(item, "skipped")
            self.report.skipped += 1
        if changes:
            self.store.set_payload([item.id], changes)
        self._done += 1
        self._emit()

    def _fail(
        self, entry: Item | ItemError, error: LookalikeError, duplicate_of: str | None = None
    ) -> None:
        self.report.failed.append(Failure(entry.source, error.code, error.message))
        self._outcome(entry, "failed", error=error, duplicate_of=duplicate_of)
        self._done += 1
        self._emit()

    def _outcome(
        self,
        entry: Item | ItemError,
        status: OutcomeStatus,
        *,
        error: LookalikeError | None = None,
        duplicate_of: str | None = None,
    ) -> None:
        self.report.outcomes.append(
            Outcome(
                index=self._position.get(id(entry), -1),
                id=entry.id,
                source=entry.source,
                status=status,
                code=error.code if error else None,
                message=error.message if error else None,
                duplicate_of=duplicate_of,
            )
        )

    def _prune(self, roots: Sequence[Path], seen: set[str]) -> int:
        """Delete records whose file under one of ``roots`` is gone (``seen``: ids listed in
        this run, kept)."""
        resolved = [str(r.resolve()) + os.sep for r in roots]
        gone: list[str] = []
        for p in scroll_all(self.store, page=512):
            path = p.payload.get(PATH)
            if (
                isinstance(path, str)
                and p.id not in seen
                and any(path.startswith(r) for r in resolved)
                and not os.path.exists(path)
            ):
                gone.append(p.id)
        self.store.delete(gone)
        return len(gone)

    def _emit(self, phase: str = "indexing") -> None:
        if self.progress is not None:
            self.progress(
                Progress(
                    self._total, self._done, self.report.indexed, len(self.report.failed), phase
                )
            )


def embed_batch(
    signals: Sequence[Signal], batch: Sequence[Prepared]
) -> tuple[list[dict[str, Vector]], dict[str, float]]:
    """The vectors of each prepared image, and the milliseconds each signal spent on the batch
    (run where the models are: in the ingest process, or in a cluster worker)."""
    vectors: list[dict[str, Vector]] = [{} for _ in batch]
    timings: dict[str, float] = {}
    for signal in signals:
        start = time.perf_counter()
        outputs = signal.embed([p.outputs[signal.name] for p in batch])
        timings[signal.name] = 1000 * (time.perf_counter() - start)
        for acc, out in zip(vectors, outputs, strict=True):
            acc.update(out)
    return vectors, timings


def signal_payload(signals: Sequence[Signal], prepared: Prepared) -> dict[str, Any]:
    """The payload fields the ``signals`` derive from a prepared image's outputs."""
    return {k: v for s in signals for k, v in s.payload(prepared.outputs[s.name]).items()}


def _file_stat(item: Item) -> dict[str, Any]:
    if item.path is None:
        return {}
    try:
        stat = item.path.stat()
    except OSError:
        return {}
    return {FILE_SIZE: stat.st_size, FILE_MTIME: stat.st_mtime_ns}


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
