"""Background jobs: large batches are indexed (and collections reindexed) by a small thread
pool while the client polls ``GET /jobs/{id}``.

Jobs live in memory: a restart forgets them (and a job cut short by it stops where it was), but
every record a job reported as indexed is in the store, since the engine counts a record only
once its batch is written. Finished jobs are kept for inspection, the most recent
:data:`KEEP_FINISHED` of them, and the per-item reports of the last :data:`KEEP_REPORTS`: with
at most ``max_request_items`` items a job, what the registry holds is bounded.

With several workers on one port (``serve --workers N``) each worker also writes its jobs'
snapshots to the data folder (:mod:`lookalike.api.jobshare`), and answers for the jobs of the
others from them: a client may poll, page and cancel a job through any worker.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from lookalike.api.jobshare import JobFiles, jobs_folder, page_outcomes, process_alive
from lookalike.api.state import ServerState
from lookalike.engine import Collection, Engine
from lookalike.errors import Conflict, LookalikeError, NotFound
from lookalike.ingest import IngestReport, OnDuplicate, Progress
from lookalike.priority import BackgroundPool
from lookalike.sources import Item, ItemError
from lookalike.thumbnails import OpenFile
from lookalike.types import ReindexReport, ThumbnailReport

log = logging.getLogger("lookalike.jobs")

__all__ = ["Job", "JobRegistry", "SharedJob", "job_registry"]

KEEP_FINISHED = 100
"""Finished jobs remembered; older ones are forgotten first."""
KEEP_REPORTS = 10
"""Finished jobs whose final report is kept; older ones keep only their counts."""
PUBLISH_EVERY = 0.2
"""Seconds between two snapshots of a running job's progress (and two looks for a cancel
asked through another worker), when workers share jobs."""

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
JobKind = Literal["index", "reindex", "thumbnails"]
Work = Callable[[Callable[[Progress], None]], None]
"""A job's work, given the progress callback that updates (and may cancel) it."""


class _Cancelled(Exception):
    """Raised from the progress callback to stop a job between two items."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class Job:
    id: str
    collection: str
    total: int
    status: JobStatus = "queued"
    done: int = 0
    indexed: int = 0
    failed: int = 0
    phase: str = "queued"
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    report: IngestReport | None = None
    error: dict[str, Any] | None = None
    report_dropped: bool = False
    """The report was let go to bound memory (:data:`KEEP_REPORTS`); the counts stay."""
    kind: JobKind = "index"
    result: ReindexReport | None = None
    """A reindex job's report."""
    thumbnails: ThumbnailReport | None = None
    """A thumbnails job's report (shown as its ``result``, outcomes paged as a report's)."""
    _started: float | None = field(default=None, init=False, repr=False)
    _phase_since: float = field(default_factory=time.monotonic, init=False, repr=False)
    _ended: float | None = field(default=None, init=False, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _changed: bool = field(default=False, init=False, repr=False)
    """Progress made since the last snapshot, when workers share jobs."""

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    @property
    def rate(self) -> float:
        """Images indexed per second since the job started."""
        if self._started is None:
            return 0.0
        elapsed = (self._ended or time.monotonic()) - self._started
        return self.indexed / elapsed if elapsed > 0 else 0.0

    def enter(self, phase: str) -> None:
        """Move to ``phase`` (a long one, such as ``building index``, shows its time so far)."""
        if phase != self.phase:
            self.phase, self._phase_since = phase, time.monotonic()

    @property
    def phase_seconds(self) -> float | None:
        """Seconds spent in the current phase so far; None once the job has ended."""
        if self.finished:
            return None
        return round(time.monotonic() - self._phase_since, 1)

    def to_dict(
        self, *, report: bool = True, offset: int = 0, limit: int | None = None
    ) -> dict[str, Any]:
        """The job as the API shows it; ``report=False`` leaves the final report out, else its
        per-item outcomes are the page from ``offset`` of up to ``limit`` (all by default)."""
        out = {
            "id": self.id,
            "kind": self.kind,
            "collection": self.collection,
            "status": self.status,
            "phase": self.phase,
            "phase_seconds": self.phase_seconds,
            "total": self.total,
            "done": self.done,
            "indexed": self.indexed,
            "failed": self.failed,
            "rate": round(self.rate, 2),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
        }
        if report:
            out["report"] = None if self.report is None else _paged(self.report, offset, limit)
            if self.report_dropped:
                out["report_dropped"] = True
        if self.result is not None:
            out["result"] = self.result.to_dict()
        if self.thumbnails is not None:
            out["result"] = page_outcomes(self.thumbnails.to_dict(), offset, limit, include=report)
        return out

    def snapshot(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """What other workers read: the job without its report, with the wall-clock times
        they compute the live fields from; and, once it ended, the job with its whole report."""
        mono, wall = time.monotonic(), time.time()
        summary = self.to_dict(report=False)
        summary["_share"] = {
            "started": None if self._started is None else wall - (mono - self._started),
            "phase_since": wall - (mono - self._phase_since),
            "report_dropped": self.report_dropped,
        }
        whole = self.finished and (self.report is not None or self.thumbnails is not None)
        return summary, self.to_dict() if whole else None


def _paged(report: IngestReport, offset: int, limit: int | None) -> dict[str, Any]:
    outcomes = report.outcomes
    end = len(outcomes) if limit is None else min(len(outcomes), offset + limit)
    out = dataclasses.replace(report, outcomes=outcomes[offset:end]).to_dict()
    out["outcomes_total"] = len(outcomes)
    out["outcomes_offset"] = offset
    out["next_offset"] = end if end < len(outcomes) else None
    return out


WORKER_LOST = {
    "code": "worker_lost",
    "message": "the server process that ran this job stopped before it ended; the records "
    "it reported as indexed are kept: send the rest again",
}


@dataclass
class SharedJob(Job):
    """A job another worker holds, as its last snapshot shows it. One whose worker is gone
    before it ended shows as failed (``worker_lost``)."""

    files: JobFiles | None = field(default=None, repr=False)
    shared: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, data: dict[str, Any] | None, files: JobFiles) -> SharedJob | None:
        """The job a snapshot shows; None for a file that is no job's snapshot."""
        if data is None:
            return None
        try:
            return cls.of(data, files)
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def of(cls, data: dict[str, Any], files: JobFiles) -> SharedJob:
        share = data.get("_share") or {}
        job = cls(
            id=data["id"],
            collection=data["collection"],
            total=data["total"],
            status=data["status"],
            done=data["done"],
            indexed=data["indexed"],
            failed=data["failed"],
            phase=data["phase"],
            created_at=data["created_at"],
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            error=data.get("error"),
            report_dropped=bool(share.get("report_dropped")),
            kind=data.get("kind", "index"),
            files=files,
            shared=data,
        )
        if not job.finished and not process_alive(int(data.get("owner", 0))):
            job.status, job.phase, job.error = "failed", "failed", dict(WORKER_LOST)
        return job

    @property
    def rate(self) -> float:
        if self.finished:
            return float(self.shared.get("rate") or 0.0)
        started = (self.shared.get("_share") or {}).get("started")
        elapsed = time.time() - started if started is not None else 0.0
        return self.indexed / elapsed if elapsed > 0 else 0.0

    @property
    def phase_seconds(self) -> float | None:
        if self.finished:
            return None
        since = float((self.shared.get("_share") or {}).get("phase_since") or time.time())
        return round(max(0.0, time.time() - since), 1)

    def to_dict(
        self, *, report: bool = True, offset: int = 0, limit: int | None = None
    ) -> dict[str, Any]:
        out = {k: v for k, v in self.shared.items() if k not in ("_share", "owner")}
        out.update(
            status=self.status,
            phase=self.phase,
            error=self.error,
            phase_seconds=self.phase_seconds,
            rate=round(self.rate, 2),
        )
        whole = self.files.report(self.id) if report and self.files and self.finished else None
        if report:
            ended = whole.get("report") if whole else None
            out["report"] = None if ended is None else page_outcomes(ended, offset, limit)
            if self.report_dropped:
                out["report_dropped"] = True
        if self.kind == "thumbnails" and whole and whole.get("result") is not None:
            out["result"] = page_outcomes(whole["result"], offset, limit, include=report)
        return out


class JobRegistry:
    """Runs ingest jobs one at a time by default (they share the machine with searches)."""

    def __init__(self, workers: int = 1, *, shared: Path | None = None) -> None:
        """``shared``: the folder where the workers of one server share their jobs
        (:mod:`lookalike.api.jobshare`); None keeps them in this process's memory only."""
        self._pool = BackgroundPool(workers, thread_name_prefix="lookalike-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._files = None if shared is None else JobFiles(shared)
        self._publishing = threading.Lock()
        self._stopped = threading.Event()
        if self._files is not None:
            threading.Thread(
                target=self._publish_progress, name="lookalike-job-share", daemon=True
            ).start()

    def submit(
        self,
        collection: Collection,
        items: Sequence[Item | ItemError],
        *,
        on_duplicate: OnDuplicate = "allow",
    ) -> Job:
        job = Job(id=uuid.uuid4().hex, collection=collection.name, total=len(items))

        def work(progress: Callable[[Progress], None]) -> None:
            job.report = collection.add(items, progress=progress, on_duplicate=on_duplicate)

        return self._start(job, work)

    def submit_reindex(self, engine: Engine, name: str, **options: Any) -> Job:
        """Reindex collection ``name`` (:meth:`Engine.reindex` with ``options``) in the
        background; its report is the job's ``result``. One at a time per name."""
        busy = [j for j in self.jobs() if j.kind == "reindex" and j.collection == name]
        running = [j for j in busy if not j.finished]
        if running:
            raise Conflict(
                f"{name!r} is being reindexed by job {running[0].id}",
                detail={"jobs": [j.id for j in running]},
            )
        job = Job(id=uuid.uuid4().hex, collection=name, total=0, kind="reindex")

        def work(progress: Callable[[Progress], None]) -> None:
            job.result = engine.reindex(name, progress=progress, **options)
            job.indexed = job.result.indexed
            job.failed = len(job.result.missing)

        return self._start(job, work)

    def submit_thumbnails(self, collection: Collection, open_file: OpenFile) -> Job:
        """Turn thumbnails on for ``collection`` and make the missing ones
        (:meth:`Collection.make_thumbnails`) in the background. One at a time per collection."""
        running = [
            j
            for j in self.active(collection.name)
            if j.kind == "thumbnails" and j.collection == collection.name
        ]
        if running:
            raise Conflict(
                f"thumbnails of {collection.name!r} are being made by job {running[0].id}",
                detail={"jobs": [j.id for j in running]},
            )
        job = Job(id=uuid.uuid4().hex, collection=collection.name, total=0, kind="thumbnails")

        def work(progress: Callable[[Progress], None]) -> None:
            job.thumbnails = collection.make_thumbnails(progress=progress, open_file=open_file)

        return self._start(job, work)

    def _start(self, job: Job, work: Work) -> Job:
        with self._lock:
            if self._closed:
                raise LookalikeError("the server is shutting down; no new jobs")
            self._jobs[job.id] = job
            self._forget_old()
        self._publish(job)
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None and self._files is not None:
            job = SharedJob.read(self._files.summary(job_id), self._files)
        if job is None:
            raise NotFound(f"no job {job_id!r} (jobs are forgotten when the server restarts)")
        return job

    def jobs(self) -> list[Job]:
        """Every job remembered (by every worker, when they share jobs), newest first."""
        found = self.own_jobs()
        if self._files is not None:
            mine = {j.id for j in found}
            for data in self._files.summaries():
                job = None if data.get("id") in mine else SharedJob.read(data, self._files)
                if job is not None:
                    found.append(job)
        return sorted(found, key=lambda j: j.created_at, reverse=True)

    def own_jobs(self) -> list[Job]:
        """The jobs this process took, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)

    def active(self, collection: str) -> list[Job]:
        """Jobs queued or running on ``collection``."""
        return [j for j in self.jobs() if j.collection == collection and not j.finished]

    def cancel(self, job_id: str) -> Job:
        """Ask a job to stop after the item in hand; what it indexed so far stays. A job of
        another worker is asked through its files; that worker stops it at its next progress."""
        job = self.get(job_id)
        if isinstance(job, SharedJob):
            if not job.finished and self._files is not None:
                self._files.ask_cancel(job_id)
        else:
            job._cancel.set()
        return job

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking jobs, cancel the ones in hand and wait (up to ``timeout``) for them."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
        for job in jobs:
            job._cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=False)
        deadline = time.monotonic() + timeout
        for job in jobs:
            while not job.finished and time.monotonic() < deadline:
                time.sleep(0.02)
        self._stopped.set()

    def _run(self, job: Job, work: Work) -> None:
        if job._cancel.is_set() or (self._files and self._files.cancel_asked(job.id)):
            self._finish(job, "cancelled")
            return
        job.status = "running"
        job.enter("indexing")
        job.started_at, job._started = _now(), time.monotonic()
        self._publish(job)
        log.info(
            "job %s started: %s, %d items into %s", job.id, job.kind, job.total, job.collection
        )
        try:
            work(self._progress(job))
        except _Cancelled:
            self._finish(job, "cancelled")
        except LookalikeError as exc:
            job.error = exc.to_dict()
            self._finish(job, "failed")
        except Exception as exc:  # a job must end in a state the client can read
            job.error = {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
            self._finish(job, "failed")
        else:
            self._finish(job, "done")
        log.log(
            logging.WARNING if job.error else logging.INFO,
            "job %s %s: %d of %d items done, %d indexed, %d failed%s",
            job.id,
            job.status,
            job.done,
            job.total,
            job.indexed,
            job.failed,
            f" ({job.error['message']})" if job.error else "",
        )
        with self._lock:
            self._forget_old()

    def _progress(self, job: Job) -> Callable[[Progress], None]:
        shared = self._files is not None

        def update(p: Progress) -> None:
            job.done, job.indexed, job.failed = p.done, p.indexed, p.failed
            phase = job.phase
            job.enter(p.phase)
            job.total = max(job.total, p.total)
            if shared:
                job._changed = True
                if job.phase != phase:  # a long phase (an index build) shows at once
                    self._publish(job)
            if job._cancel.is_set():
                raise _Cancelled

        return update

    def _publish(self, job: Job) -> None:
        """Write ``job``'s snapshot for the other workers (when they share jobs)."""
        if self._files is None:
            return
        with self._publishing:
            job._changed = False
            summary, whole = job.snapshot()
            try:
                self._files.publish(summary, whole)
            except OSError as exc:  # the job goes on; the other workers see it late
                log.warning("cannot share job %s with the other workers: %s", job.id, exc)

    def _publish_progress(self) -> None:
        """While workers share jobs: every :data:`PUBLISH_EVERY` seconds, the progress of the
        running jobs for the other workers, and the cancels asked through them."""
        files = self._files
        assert files is not None
        while not self._stopped.wait(PUBLISH_EVERY):
            for job in self.own_jobs():
                if job.finished:
                    continue
                if job._changed:
                    self._publish(job)
                if files.cancel_asked(job.id):
                    job._cancel.set()

    def _finish(self, job: Job, status: JobStatus) -> None:
        self._settle(job, status)
        if self._files is not None:
            self._publish(job)
            self._files.forget_cancel(job.id)  # after the snapshot: no cancel of an ended job

    @staticmethod
    def _settle(job: Job, status: JobStatus) -> None:
        job._ended = time.monotonic()
        job.finished_at = _now()
        job.enter(status)
        if job.report is not None:
            job.indexed, job.failed = job.report.indexed, len(job.report.failed)
            job.done = job.total
        if job.result is not None:
            job.indexed, job.failed = job.result.indexed, len(job.result.missing)
            job.done = job.total
        if job.thumbnails is not None:
            job.total = job.done = job.thumbnails.total
            job.indexed, job.failed = job.thumbnails.made, job.thumbnails.failed
        job.status = status  # last: a client seeing the status sees the rest

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished]
        finished.sort(key=lambda j: j.finished_at or "")
        for job in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job.id]
            if self._files is not None:
                self._files.remove(job.id)
        for job in finished[: max(0, len(finished) - KEEP_REPORTS)]:
            dropped = job.report_dropped
            if job.report is not None:
                job.report, job.report_dropped = None, True
            if job.thumbnails is not None and job.thumbnails.outcomes:
                job.thumbnails.outcomes, job.report_dropped = [], True
            if job.report_dropped and not dropped and job.id in self._jobs:
                self._publish(job)


def job_registry(state: ServerState) -> JobRegistry:
    """The server's registry, made on first use and closed when the server stops."""
    with state.lock:
        registry = state.extras.get("jobs")
        if registry is None:
            workers = state.settings.workers
            shared = jobs_folder(state.settings.data_dir) if workers > 1 else None
            registry = state.extras["jobs"] = JobRegistry(shared=shared)
            state.extras.setdefault("on_shutdown", []).append(registry.close)
        assert isinstance(registry, JobRegistry)
        return registry
