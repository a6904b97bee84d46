"""One ingest run whose decoding and embedding happen on Ray worker actors.

The driver does what a local ingest does around that: it reads the listing in blocks (a
catalog is never held whole), asks the store in batches which items are unchanged (skipped
before any decode), sends the rest in batches to the workers, and builds, checks
(``on_duplicate``, ``on_unsafe``) and writes the records through the store seam with the
same code as :class:`~lookalike.ingest.Ingest`. A batch whose worker dies is retried on a
restarted worker; one that fails again is reported item by item, never written twice.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from lookalike.config import Settings
from lookalike.distributed.cluster import cluster
from lookalike.distributed.worker import BatchResult, Job, SignalWorker
from lookalike.errors import LookalikeError, error_class
from lookalike.ingest import Ingest
from lookalike.payload import CONTENT_HASH
from lookalike.sources import Fetcher, Item, ItemError
from lookalike.types import (
    IngestReport,
    OutcomeStatus,
)

#: Listing entries read from the sources at a time.
BLOCK = 1024
#: Times a batch is sent again after its worker died.
RETRIES = 2

Pending = tuple[Any, list[tuple[Item, dict[str, Any] | None]]]


class RayIngest(Ingest):
    """An :class:`Ingest` whose prepare and embed steps run on ``workers`` Ray actors."""

    def __init__(self, *args: Any, ray: Any, workers: int, build: tuple[Any, ...], **kw: Any):
        """``build``: (signal names, settings, model, dims) each worker builds its signals
        from; ``ray``: the connected ``ray`` module."""
        super().__init__(*args, **kw)
        self.ray = ray
        actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=RETRIES)(SignalWorker)
        self.workers = [actor.remote(*build) for _ in range(max(1, workers))]
        self._next = 0

    def stream(
        self, items: Iterable[Item | ItemError], *, prune_roots: Sequence[Path] = ()
    ) -> IngestReport:
        """Run over ``items`` read lazily, ``BLOCK`` at a time."""
        start = time.perf_counter()
        pending: deque[Pending] = deque()
        turn = itertools.cycle(self.workers)
        batch = max(1, self.settings.batch_size)
        inflight = 2 * len(self.workers)
        seen_ids: set[str] = set()
        try:
            with Fetcher(self.settings) as fetcher:
                for block in _blocks(items, BLOCK):
                    for entry in block:
                        self._position[id(entry)] = self._next
                        self._next += 1
                        if isinstance(entry, Item):
                            seen_ids.add(entry.id)
                    self._total = self._next
                    jobs = list(self._triage(block, fetcher))
                    for start_at in range(0, len(jobs), batch):
                        part = jobs[start_at : start_at + batch]
                        pending.append(self._send(next(turn), part))
                        while len(pending) > inflight:
                            self._take(*pending.popleft())
                while pending:
                    self._take(*pending.popleft())
        finally:
            for ref, _ in pending:
                self.ray.cancel(ref)
            self.report.seconds = time.perf_counter() - start
            self.report.ms_per_image = self._ms_per_image()
            self.report.outcomes.sort(key=lambda o: o.index)
        if prune_roots:
            self.report.pruned = self._prune(prune_roots, seen_ids)
        self.report.index_built = self.store.maintain(self._emit)
        self.report.seconds = time.perf_counter() - start
        return self.report

    def _send(
        self, worker: Any, part: Sequence[tuple[Item, bytes | None, dict[str, Any] | None]]
    ) -> Pending:
        jobs = [
            Job(
                str(item.path) if data is None and item.path is not None else None,
                data,
                item.source,
                old.get(CONTENT_HASH) if old is not None and self._current(old) else None,
            )
            for item, data, old in part
        ]
        ref = worker.process.remote(self.plan, jobs)
        return ref, [(item, old) for item, _, old in part]

    def _take(self, ref: Any, entries: list[tuple[Item, dict[str, Any] | None]]) -> None:
        try:
            result: BatchResult = self.ray.get(ref)
        except Exception as exc:  # the worker died RETRIES + 1 times, or the batch raised
            reason = _reason(exc)
            for item, _ in entries:
                message = f"{item.source}: the cluster worker failed: {reason}"
                self._fail(item, LookalikeError(message))
            return
        batch = []
        vectors = []
        for (item, old), prepared, vector in zip(
            entries, result.prepared, result.vectors, strict=True
        ):
            if isinstance(prepared, tuple):
                code, message = prepared
                self._fail(item, error_class(code)(message))
                continue
            if not self._changed(item, prepared, old) or vector is None:
                continue
            batch.append((item, prepared, old))
            vectors.append(vector)
        if batch:
            self.write(batch, vectors, result.embed_ms)

    def close(self) -> None:
        """Stop this run's worker actors."""
        for worker in self.workers:
            self.ray.kill(worker)

    def _outcome(
        self,
        entry: Item | ItemError,
        status: OutcomeStatus,
        *,
        error: LookalikeError | None = None,
        duplicate_of: str | None = None,
    ) -> None:
        super()._outcome(entry, status, error=error, duplicate_of=duplicate_of)
        self._position.pop(id(entry), None)  # the entry may be freed now; its id reused


def _blocks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while block := list(itertools.islice(it, size)):
        yield block


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"


def ray_ingest_for(
    options: dict[str, Any],
    recipe: tuple[list[str], Settings, str, dict[str, int]],
    ray: Any,
    *,
    workers: int | None = None,
) -> RayIngest:
    """A run with the ingest ``options`` of a collection (``Collection.ingest_options``),
    whose signals ``recipe`` (``Collection.signal_recipe``) the workers build, with ``workers``
    actors (default: one per CPU of the cluster) on the connected ``ray``."""
    count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    return RayIngest(**options, ray=ray, workers=count, build=recipe)


def ray_index(
    options: dict[str, Any],
    recipe: tuple[list[str], Settings, str, dict[str, int]],
    items: Iterable[Item | ItemError],
    *,
    address: str | None = None,
    workers: int | None = None,
    prune_roots: Sequence[Path] = (),
) -> IngestReport:
    """Index ``items`` on Ray (``address``: ``None``/``local`` starts one here, ``auto`` or
    ``ray://host:port`` joins a cluster); the arguments are as for :func:`ray_ingest_for`."""
    with cluster(address, num_cpus=workers) as ray:
        ingest = ray_ingest_for(options, recipe, ray, workers=workers)
        try:
            return ingest.stream(items, prune_roots=prune_roots)
        finally:
            ingest.close()
