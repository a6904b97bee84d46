"""Jobs seen by every worker of ``lookalike serve --workers N``.

The workers share one port, so a client polling a job may reach a worker other than the one
that took it. Each worker writes a snapshot of its own jobs to ``<data_dir>/jobs/``: ``ID.json``
(what ``GET /jobs`` shows, plus the clocks a reader needs to compute the live fields), and once
the job has ended ``ID.report.json`` (the job with its whole report, which readers page). Every
file is replaced whole (written beside it, then renamed), so a reader sees one version or the
next, never half of one. A worker that does not hold a job answers from these files; a cancel
reaching it leaves ``ID.cancel``, which the owner looks for while the job reports progress.

A single server process (``workers = 1``) writes none of this: its jobs live in its memory only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

__all__ = ["JobFiles", "jobs_folder", "page_outcomes", "process_alive"]

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
"""A job id as :class:`~lookalike.api.jobs.JobRegistry` makes them (uuid4 hex): anything else
names no file."""

_CACHED_REPORTS = 8
"""Parsed report files kept by a reader: a client pages one report many times."""


def jobs_folder(data_dir: Path) -> Path:
    return data_dir / "jobs"


def page_outcomes(
    section: dict[str, Any], offset: int, limit: int | None, *, include: bool = True
) -> dict[str, Any]:
    """``section`` (a report as a dict) with only the page of its ``outcomes`` from ``offset``
    of up to ``limit``, and where the next page starts; no outcomes unless ``include``."""
    outcomes = section["outcomes"]
    end = len(outcomes) if limit is None else min(len(outcomes), offset + limit)
    return {
        **section,
        "outcomes": outcomes[offset:end] if include else [],
        "outcomes_total": len(outcomes),
        "outcomes_offset": offset,
        "next_offset": end if include and end < len(outcomes) else None,
    }


class JobFiles:
    """The snapshot files of one data folder's jobs: written by the worker holding each job,
    read by the others."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._reports: OrderedDict[tuple[str, int, int], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def clear(folder: Path) -> None:
        """Forget every job (a server starting anew): jobs do not outlive the server."""
        shutil.rmtree(folder, ignore_errors=True)

    def _path(self, job_id: str, suffix: str) -> Path | None:
        return self.folder / f"{job_id}{suffix}" if _JOB_ID.match(job_id) else None

    def _replace(self, path: Path, data: dict[str, Any]) -> None:
        part = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        part.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(part, path)

    def publish(self, summary: dict[str, Any], report: dict[str, Any] | None) -> None:
        """Write a job's snapshot: the report file (when given) first, so a reader that sees
        the job ended finds its report."""
        job_id = summary["id"]
        report_path = self._path(job_id, ".report.json")
        summary_path = self._path(job_id, ".json")
        assert report_path is not None and summary_path is not None
        if report is not None:
            self._replace(report_path, report)
        else:
            report_path.unlink(missing_ok=True)
        self._replace(summary_path, {**summary, "owner": os.getpid()})

    def remove(self, job_id: str) -> None:
        for suffix in (".json", ".report.json", ".cancel"):
            path = self._path(job_id, suffix)
            if path is not None:
                path.unlink(missing_ok=True)

    def summary(self, job_id: str) -> dict[str, Any] | None:
        path = self._path(job_id, ".json")
        return None if path is None else _read(path)

    def summaries(self) -> list[dict[str, Any]]:
        """Every job's summary (a file removed meanwhile is left out)."""
        found = []
        for path in self.folder.glob("*.json"):
            if path.name.endswith(".report.json") or path.name.startswith("."):
                continue
            data = _read(path)
            if data is not None:
                found.append(data)
        return found

    def report(self, job_id: str) -> dict[str, Any] | None:
        """The job with its whole report, once it ended (parsed once per version)."""
        path = self._path(job_id, ".report.json")
        if path is None:
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (job_id, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key in self._reports:
                self._reports.move_to_end(key)
                return self._reports[key]
        data = _read(path)
        if data is not None:
            with self._lock:
                self._reports[key] = data
                while len(self._reports) > _CACHED_REPORTS:
                    self._reports.popitem(last=False)
        return data

    def ask_cancel(self, job_id: str) -> None:
        path = self._path(job_id, ".cancel")
        if path is not None:
            path.write_text(str(time.time()))

    def forget_cancel(self, job_id: str) -> None:
        path = self._path(job_id, ".cancel")
        if path is not None:
            path.unlink(missing_ok=True)

    def cancel_asked(self, job_id: str) -> bool:
        path = self._path(job_id, ".cancel")
        return path is not None and path.exists()


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def process_alive(pid: int) -> bool:
    """Whether a process of this id runs (one of another user counts as running)."""
    if pid <= 0:  # 0 and negative ids name process groups
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
