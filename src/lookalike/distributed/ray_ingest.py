"""One ingest run whose listing, decoding and embedding happen on the Ray cluster.

A listing task on the cluster reads the sources (folders, URL lists, JSONL catalogs) and hands
them to the driver in blocks of ``BLOCK`` entries, a few blocks ahead at most: a catalog is
never held whole, neither by the driver nor by the cluster. The driver does what a local
ingest does around the models: it asks the store in batches which items are unchanged
(skipped before any decode), sends the rest in batches to a pool of worker actors that built
the collection's signals once, and builds, checks (``on_duplicate``, ``on_unsafe``) and writes
the records through the store seam with the same code as :class:`~lookalike.ingest.Ingest`.
Results are taken in the order sent, so duplicate checks see the images in input order, as in
a local run. A batch whose worker dies is retried on a restarted worker; one that fails again
is reported item by item, never written twice.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lookalike.config import Settings
from lookalike.distributed.cluster import cluster
from lookalike.distributed.worker import BatchResult, Job, SignalWorker
from lookalike.errors import ClusterUnavailable, LookalikeError, error_class
from lookalike.ingest import Ingest
from lookalike.payload import CONTENT_HASH
from lookalike.sources import Fetcher, Item, ItemError
from lookalike.types import IngestReport, OutcomeStatus, Precision, SemanticInput

#: Listing entries read from the sources at a time.
BLOCK = 1024
#: Blocks the listing task may read ahead of the driver.
BLOCKS_AHEAD = 2
#: Times a batch is sent again after its worker died.
RETRIES = 2
#: Batches in flight per worker: one being worked on, one waiting.
PER_WORKER = 2
#: Seconds the run waits for a first worker to start (its resources may be busy, or coming).
START_TIMEOUT = 300.0

Entry = Item | ItemError
Listing = Callable[[], Iterable[Entry]]
"""What lists a run's sources; picklable, as it runs on the cluster (``functools.partial``
of :func:`lookalike.sources.iter_items`)."""
Recipe = tuple[list[str], Settings, str, dict[str, int], Precision, SemanticInput]
Sent = tuple[Any, int, list[tuple[Item, dict[str, Any] | None]]]
"""(result reference, worker, the batch's items with their stored payloads)."""


@dataclass(frozen=True)
class Resources:
    """What the run asks of the cluster: ``workers`` actors (``None``: as many as the
    cluster's CPUs, or GPUs, hold), each given ``cpus`` CPUs and ``gpus`` GPUs."""

    workers: int | None = None
    cpus: float = 1.0
    gpus: float = 0.0

    def pool_size(self, cluster_resources: Mapping[str, float]) -> int:
        """The number of worker actors for a cluster of ``cluster_resources`` (Ray's totals);
        a worker that no node could hold is refused here rather than waited for forever."""
        have_cpu = float(cluster_resources.get("CPU", 0))
        have_gpu = float(cluster_resources.get("GPU", 0))
        if self.gpus > have_gpu:
            raise ClusterUnavailable(
                f"each worker asks for {self.gpus:g} GPU, and the cluster has {have_gpu:g}",
                detail={"gpus_per_worker": self.gpus, "cluster_gpus": have_gpu},
            )
        if self.cpus > have_cpu:
            raise ClusterUnavailable(
                f"each worker asks for {self.cpus:g} CPU, and the cluster has {have_cpu:g}",
                detail={"cpus_per_worker": self.cpus, "cluster_cpus": have_cpu},
            )
        if self.workers:
            return self.workers
        fits = [int(have_cpu // self.cpus)] if self.cpus > 0 else []
        if self.gpus > 0:
            fits.append(int(have_gpu // self.gpus))
        return max(1, min(fits, default=1))


class RayIngest(Ingest):
    """An :class:`Ingest` whose prepare and embed steps run on a pool of Ray actors."""

    def __init__(
        self,
        *args: Any,
        ray: Any,
        workers: int | Resources,
        build: Recipe,
        **kw: Any,
    ):
        """``build``: (signal names, settings, model, dims, precision, semantic input) each
        worker builds its signals from; ``workers``: how many actors, or :class:`Resources`;
        ``ray``: the connected ``ray`` module."""
        super().__init__(*args, **kw)
        self.ray = ray
        asked = workers if isinstance(workers, Resources) else Resources(workers=workers)
        self.resources = asked
        count = asked.pool_size(ray.cluster_resources())
        actor = ray.remote(
            num_cpus=asked.cpus,
            num_gpus=asked.gpus,
            max_restarts=-1,
            max_task_retries=RETRIES,
        )(SignalWorker)
        self.workers = [actor.remote(*build) for _ in range(count)]
        self._starting = {w.pid.remote(): n for n, w in enumerate(self.workers)}
        self._up: set[int] = set()
        self._load = [0] * count
        self._next = 0

    def stream(self, items: Iterable[Entry], *, prune_roots: Sequence[Path] = ()) -> IngestReport:
        """Run over ``items`` read lazily, ``BLOCK`` at a time."""
        start = time.perf_counter()
        sent: deque[Sent] = deque()
        batch = max(1, self.settings.batch_size)
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
                        worker = self._free_worker(sent)
                        sent.append(self._send(worker, jobs[start_at : start_at + batch]))
                while sent:
                    self._take(*sent.popleft())
        finally:
            for ref, _, _ in sent:
                self.ray.cancel(ref)
            self.report.seconds = time.perf_counter() - start
            self.report.ms_per_image = self._ms_per_image()
            self.report.outcomes.sort(key=lambda o: o.index)
        if prune_roots:
            self.report.pruned = self._prune(prune_roots, seen_ids)
        self.report.index_built = self.store.maintain(self._emit)
        self.report.seconds = time.perf_counter() - start
        return self.report

    def _free_worker(self, sent: deque[Sent]) -> int:
        """A started worker with room for a batch, the least loaded; while there is none,
        the oldest batch sent is taken (or, with nothing sent, a worker's start awaited)."""
        while True:
            self._started(timeout=0)
            free = [n for n in self._up if self._load[n] < PER_WORKER]
            if free:
                return min(free, key=lambda n: (self._load[n], n))
            if sent:
                self._take(*sent.popleft())
            else:
                self._started(timeout=START_TIMEOUT)

    def _started(self, *, timeout: float) -> None:
        """Note the workers that have started, waiting up to ``timeout`` seconds for one
        when none has; a worker whose start failed (its model missing) fails the run."""
        if not self._starting:
            return
        waiting = list(self._starting)
        wanted = 1 if timeout and not self._up else len(waiting)
        done, _ = self.ray.wait(waiting, num_returns=wanted, timeout=timeout)
        for ref in done:
            n = self._starting.pop(ref)
            try:
                self.ray.get(ref)
            except Exception as exc:
                cause = _cause(self.ray, exc)
                if isinstance(cause, LookalikeError):
                    raise cause from exc
                message = f"a cluster worker could not start: {_reason(exc)}"
                raise ClusterUnavailable(message) from exc
            self._up.add(n)
        if timeout and not self._up:
            need = f"{self.resources.cpus:g} CPU" + (
                f" and {self.resources.gpus:g} GPU" if self.resources.gpus else ""
            )
            raise ClusterUnavailable(
                f"no cluster worker started within {timeout:g} s: the cluster has no free "
                f"{need} for one (busy with other jobs?)"
            )

    def _send(
        self, worker: int, part: Sequence[tuple[Item, bytes | None, dict[str, Any] | None]]
    ) -> Sent:
        jobs = [
            Job(
                str(item.path) if data is None and item.path is not None else None,
                data,
                item.source,
                old.get(CONTENT_HASH) if old is not None and self._current(old) else None,
            )
            for item, data, old in part
        ]
        ref = self.workers[worker].process.remote(self.plan, jobs)
        self._load[worker] += 1
        return ref, worker, [(item, old) for item, _, old in part]

    def _take(
        self, ref: Any, worker: int, entries: list[tuple[Item, dict[str, Any] | None]]
    ) -> None:
        try:
            result: BatchResult = self.ray.get(ref)
        except Exception as exc:  # the worker died RETRIES + 1 times, or the batch raised
            reason = _reason(exc)
            for item, _ in entries:
                message = f"{item.source}: the cluster worker failed: {reason}"
                self._fail(item, LookalikeError(message))
            return
        finally:
            self._load[worker] -= 1
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
        entry: Entry,
        status: OutcomeStatus,
        *,
        error: LookalikeError | None = None,
        duplicate_of: str | None = None,
    ) -> None:
        super()._outcome(entry, status, error=error, duplicate_of=duplicate_of)
        self._position.pop(id(entry), None)  # the entry may be freed now; its id reused


def cluster_listing(ray: Any, listing: Listing, size: int | None = None) -> Iterator[list[Entry]]:
    """The entries of ``listing``, listed by a task on the cluster (where the files are) and
    received ``size`` (default ``BLOCK``) at a time; the task reads ``BLOCKS_AHEAD`` blocks
    ahead at most. A listing that fails as a whole (a missing metadata file) raises its
    error here."""
    task = ray.remote(
        num_cpus=0,  # reading files: it must not wait for a CPU held by a worker actor
        num_returns="streaming",
        _generator_backpressure_num_objects=BLOCKS_AHEAD,
    )(_list_blocks)
    blocks = task.remote(listing, size or BLOCK)
    try:
        for ref in blocks:
            try:
                block: list[Entry] = ray.get(ref)
            except Exception as exc:
                cause = _cause(ray, exc)
                if isinstance(cause, LookalikeError):
                    raise cause from exc
                raise ClusterUnavailable(f"listing the sources failed: {_reason(exc)}") from exc
            yield block
    finally:
        ray.cancel(blocks)


def _list_blocks(listing: Listing, size: int) -> Iterator[list[Entry]]:
    """Runs on the cluster: the listing, in blocks."""
    yield from _blocks(listing(), size)


def _blocks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while block := list(itertools.islice(it, size)):
        yield block


def _cause(ray: Any, exc: BaseException) -> BaseException | None:
    """The exception raised on the cluster, behind Ray's wrapper."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        return exc.cause  # type: ignore[no-any-return]
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"


def ray_ingest_for(
    options: dict[str, Any],
    recipe: Recipe,
    ray: Any,
    *,
    workers: int | Resources | None = None,
) -> RayIngest:
    """A run with the ingest ``options`` of a collection (``Collection.ingest_options``),
    whose signals ``recipe`` (``Collection.signal_recipe``) the workers build, with the pool
    ``workers`` (a count, or :class:`Resources`; default: one actor per CPU of the cluster)
    on the connected ``ray``."""
    return RayIngest(**options, ray=ray, workers=workers or Resources(), build=recipe)


def ray_index(
    options: dict[str, Any],
    recipe: Recipe,
    listing: Listing,
    *,
    address: str | None = None,
    workers: int | Resources | None = None,
    prune_roots: Sequence[Path] = (),
) -> IngestReport:
    """Index what ``listing`` lists on Ray (``address``: ``None``/``local`` starts one here,
    ``auto`` or ``ray://host:port`` joins a cluster); the arguments are as for
    :func:`ray_ingest_for`."""
    resources = workers if isinstance(workers, Resources) else Resources(workers=workers)
    local_cpus = resources.workers and int(resources.workers * resources.cpus) or None
    with cluster(address, num_cpus=local_cpus) as ray:
        ingest = ray_ingest_for(options, recipe, ray, workers=resources)
        try:
            items = itertools.chain.from_iterable(cluster_listing(ray, listing))
            return ingest.stream(items, prune_roots=prune_roots)
        finally:
            ingest.close()
