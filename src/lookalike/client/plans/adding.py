"""Adding records: folders, lists and catalogs read here, files uploaded a few per request, URLs
sent for the server to fetch, and one report for the whole run numbered by the caller's input."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lookalike.client.plans.common import coll, mime
from lookalike.client.plans.jobs import job_of, wait_job
from lookalike.client.shapes import from_dict, merge_reports
from lookalike.client.wire import Call, Plan
from lookalike.errors import BadInput, ImageTooLarge, LookalikeError
from lookalike.sources import Item, ItemError, as_item, iter_items, read_file_bytes
from lookalike.types import IngestReport, Progress, ProgressCallback, check_on_duplicate

BATCH_ITEMS = 8
"""Items per add request: steady progress, a batch for the model, and under the size from
which the server turns a batch into a background job."""
UPLOAD_BYTES = 8 * 1024 * 1024
UPLOAD_TIMEOUT = 600.0
"""Seconds an add request may take: the server decodes and embeds before it answers."""


def index(
    name: str,
    inputs: Sequence[str | os.PathLike[str]],
    *,
    metadata_file: str | os.PathLike[str] | None,
    group_by_folder: bool,
    prune: bool,
    on_duplicate: str,
    progress: ProgressCallback | None,
    max_bytes: int,
) -> Plan[IngestReport]:
    """Folders, lists and catalogs are read here; their files are uploaded, their URLs sent
    for the server to fetch."""
    if prune:
        raise BadInput(
            "prune is not available through a server: records added through it keep no file "
            "path to check; run `lookalike index --prune` while no server holds the data folder"
        )
    items = list(
        iter_items(
            [os.fspath(i) for i in inputs],
            metadata_file=Path(metadata_file) if metadata_file else None,
            group_by_folder=group_by_folder,
            max_bytes=max_bytes,
        )
    )
    return (yield from add(name, items, on_duplicate, progress, False, max_bytes))


def add(
    name: str,
    items: Iterable[Any],
    on_duplicate: str,
    progress: ProgressCallback | None,
    background: bool,
    max_bytes: int,
) -> Plan[IngestReport]:
    """Items in order: runs of URLs as JSON items, runs of files and bytes as uploads."""
    check_on_duplicate(on_duplicate)
    start = time.perf_counter()
    batch = [as_item(i, max_bytes) for i in items]
    run = _Run(len(batch), progress)
    for kind, chunk in _chunks(batch, max_bytes, run):
        if kind == "url":
            yield from _add_urls(name, chunk, on_duplicate, background, run)
        else:
            yield from _upload(name, chunk, on_duplicate, run)
    run.report.outcomes.sort(key=lambda o: o.index)
    run.report.seconds = time.perf_counter() - start
    return run.report


@dataclass
class _Entry:
    """An item of the run, with its position in the caller's input and its bytes to upload."""

    index: int
    item: Item
    data: bytes = b""


class _Run:
    """The report of a whole add, summed over its requests, and its progress."""

    def __init__(self, total: int, progress: ProgressCallback | None) -> None:
        self.report = IngestReport()
        self.total = total
        self.done = 0
        self.progress = progress

    def fail(self, index: int, item_id: str | None, source: str, error: LookalikeError) -> None:
        """An item that failed here, before it reached the server."""
        failure = {"source": source, "code": error.code, "message": error.message}
        outcome = {"index": 0, "id": item_id, "status": "failed", "error": failure}
        self.merge({"failed": [failure], "outcomes": [outcome]}, [(index, source)])

    def merge(self, body: dict[str, Any], entries: Sequence[tuple[int, str]]) -> None:
        """Add one request's report; its per-item outcomes are renumbered from the request's
        items to the caller's input, and name the caller's sources."""
        outcomes = []
        for outcome in body.get("outcomes") or ():
            index, source = entries[int(outcome["index"])]
            error = outcome.get("error") or {}
            outcomes.append(
                {
                    **outcome,
                    "index": index,
                    "source": source,
                    "code": error.get("code"),
                    "message": error.get("message"),
                }
            )
        merge_reports(self.report, from_dict(IngestReport, {**body, "outcomes": outcomes}))
        self.done += len(entries)
        self.emit()

    def emit(self, done: int = 0, indexed: int = 0, failed: int = 0) -> None:
        """Progress so far, plus what a running job has done of the current request."""
        if self.progress is not None:
            self.progress(
                Progress(
                    self.total,
                    self.done + done,
                    self.report.indexed + indexed,
                    len(self.report.failed) + failed,
                )
            )


def _chunks(
    batch: Sequence[Item | ItemError], max_bytes: int, run: _Run
) -> Iterable[tuple[str, list[_Entry]]]:
    """Consecutive items of one kind, a few at a time. An upload has one group per request, so
    a change of group starts a new one; files are read here, and one that cannot be read fails
    alone."""
    kind, size, key = "", 0, None
    chunk: list[_Entry] = []
    for index, item in enumerate(batch):
        if isinstance(item, ItemError):
            run.fail(index, None, item.source, item.error)
            continue
        entry = _Entry(index, item)
        if item.url is None:
            if item.data is not None:
                entry.data = item.data
            else:
                assert item.path is not None
                try:
                    entry.data = read_file_bytes(item.path, max_bytes=max_bytes)
                except LookalikeError as exc:
                    run.fail(index, item.id, item.source, exc)
                    continue
        this_kind = "url" if item.url is not None else "upload"
        this_key = None if this_kind == "url" else item.group
        full = len(chunk) >= BATCH_ITEMS or size + len(entry.data) > UPLOAD_BYTES
        if chunk and (this_kind != kind or this_key != key or full):
            yield kind, chunk
            chunk, size = [], 0
        kind, key = this_kind, this_key
        chunk.append(entry)
        size += len(entry.data)
    if chunk:
        yield kind, chunk


def _add_urls(
    name: str, chunk: list[_Entry], on_duplicate: str, background: bool, run: _Run
) -> Plan[None]:
    items = []
    for entry in chunk:
        item = entry.item
        spec: dict[str, Any] = {"id": item.id, "url": item.url}
        if item.metadata:
            spec["metadata"] = item.metadata
        if item.group is not None:
            spec["group"] = item.group
        items.append(spec)
    body: dict[str, Any] = {"items": items, "on_duplicate": on_duplicate}
    if background:
        body["background"] = True
    call = Call("POST", f"{coll(name)}/records", json=body, timeout=UPLOAD_TIMEOUT)
    yield from _send(call, chunk, run)


def _upload(name: str, chunk: list[_Entry], on_duplicate: str, run: _Run) -> Plan[None]:
    """One multipart request; a request over the server's body limit is split, and a single
    file over it fails alone."""
    items = [e.item for e in chunk]
    fields: dict[str, str | list[str]] = {"ids": json.dumps([i.id for i in items])}
    if any(i.metadata for i in items):
        fields["metadata"] = json.dumps([i.metadata for i in items])
    if items[0].group is not None:
        fields["group"] = items[0].group
    if on_duplicate != "allow":
        fields["on_duplicate"] = on_duplicate
    files = [("files", (e.item.source, e.data, mime(e.item.source))) for e in chunk]
    call = Call(
        "POST", f"{coll(name)}/records/upload", files=files, data=fields, timeout=UPLOAD_TIMEOUT
    )
    try:
        yield from _send(call, chunk, run)
    except ImageTooLarge as exc:
        if len(chunk) == 1:
            run.fail(chunk[0].index, items[0].id, items[0].source, exc)
            return
        for entry in chunk:
            yield from _upload(name, [entry], on_duplicate, run)


def _send(call: Call, chunk: list[_Entry], run: _Run) -> Plan[None]:
    reply = yield call
    assert reply is not None
    if reply.status == 202:
        body = yield from wait_job(job_of(reply.body)["id"], run.emit)
    else:
        body = _report_of(reply.body)
    run.merge(body, [(e.index, e.item.source) for e in chunk])


def _report_of(body: Any) -> dict[str, Any]:
    report = body.get("report", body) if isinstance(body, dict) else None
    if not isinstance(report, dict):
        raise BadInput(f"the server answered without an ingest report: {str(body)[:200]}")
    return report
