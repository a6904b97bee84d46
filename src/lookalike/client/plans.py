"""Each client operation once, as a plan of HTTP calls (see :mod:`lookalike.client.wire`): the
routes of docs/server.md, the local work a remote call still needs (reading files, walking
folders), and the answers turned back into the core's types."""

from __future__ import annotations

import io
import json
import mimetypes
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lookalike.client.shapes import from_dict, merge_reports
from lookalike.client.wire import Call, Pause, Plan, Reply, error_from
from lookalike.errors import (
    BadInput,
    Conflict,
    ImageTooLarge,
    InvalidFilter,
    LookalikeError,
    NotFound,
)
from lookalike.ingest import ON_DUPLICATE, ON_UNSAFE, IngestReport, Progress, ProgressCallback
from lookalike.search import SearchResult
from lookalike.signals import parse_signals
from lookalike.signals.duplicate.clusters import Cluster
from lookalike.signals.faces.people import ClusterReport, Person
from lookalike.sources import Item, ItemError, is_url, item_from_dict, iter_items, read_file_bytes

BATCH_ITEMS = 8
"""Items per add request: steady progress, a batch for the model, and under the size from
which the server turns a batch into a background job."""
UPLOAD_BYTES = 8 * 1024 * 1024
UPLOAD_TIMEOUT = 600.0
"""Seconds an add request may take: the server decodes and embeds before it answers."""
RUNNING = frozenset({"queued", "pending", "running"})


def _q(text: str) -> str:
    return quote(text, safe="")


def _coll(name: str) -> str:
    return f"/collections/{_q(name)}"


def _body(reply: Reply | None) -> Any:
    assert reply is not None  # a Call is always answered with a Reply
    return reply.body


# collections --------------------------------------------------------------------------------


def list_collections() -> Plan[list[dict[str, Any]]]:
    body = _body((yield Call("GET", "/collections")))
    return list(body["collections"])


def create_collection(
    name: str,
    *,
    signals: str | Sequence[str] | None,
    model: str | None,
    exist_ok: bool,
    thumbnails: bool,
    on_unsafe: str | None = None,
) -> Plan[dict[str, Any]]:
    """With ``exist_ok``, an existing collection is answered when it has the signals, model and
    ``on_unsafe`` asked for (``Conflict`` if not), as ``Engine.create_collection`` does."""
    names = None if signals is None else list(parse_signals(signals))
    if on_unsafe is not None and on_unsafe not in ON_UNSAFE:
        raise BadInput(f"on_unsafe must be one of {', '.join(ON_UNSAFE)}, not {on_unsafe!r}")
    if model is not None and Path(model).exists():
        model = str(Path(model).resolve())  # a model folder is named by absolute path
    if exist_ok:
        try:
            return _existing(name, (yield from collection_info(name)), names, model, on_unsafe)
        except NotFound:
            pass
    body: dict[str, Any] = {"name": name}
    if names is not None:
        body["signals"] = names
    if model is not None:
        body["model"] = model
    if thumbnails:
        body["thumbnails"] = True
    if on_unsafe is not None:
        body["on_unsafe"] = on_unsafe
    try:
        return dict(_body((yield Call("POST", "/collections", json=body))))
    except Conflict:
        if not exist_ok:
            raise
        # made by another client since we looked
        return _existing(name, (yield from collection_info(name)), names, model, on_unsafe)


def _existing(
    name: str,
    info: dict[str, Any],
    signals: list[str] | None,
    model: str | None,
    on_unsafe: str | None,
) -> dict[str, Any]:
    have = list(info.get("signals") or [])
    if signals is not None and set(signals) != set(have):
        raise Conflict(
            f"collection {name!r} has signals {','.join(have)}, not {','.join(signals)}; "
            "create another collection for them"
        )
    if model is not None and "semantic" in have and model != info.get("model"):
        raise Conflict(
            f"collection {name!r} uses model {info.get('model')!r}, not {model!r}; "
            "create another collection to compare models"
        )
    have_unsafe = info.get("on_unsafe", "allow")
    if on_unsafe is not None and on_unsafe != have_unsafe:
        raise Conflict(
            f"collection {name!r} was created with on_unsafe {have_unsafe!r}, not {on_unsafe!r}"
        )
    return info


def collection_info(name: str) -> Plan[dict[str, Any]]:
    return dict(_body((yield Call("GET", _coll(name)))))


def drop_collection(name: str) -> Plan[None]:
    yield Call("DELETE", _coll(name))


# records ------------------------------------------------------------------------------------


def get(name: str, record_id: str) -> Plan[dict[str, Any]]:
    return dict(_body((yield Call("GET", f"{_coll(name)}/records/{_q(record_id)}"))))


def update(
    name: str,
    record_id: str,
    *,
    metadata: Mapping[str, Any] | None,
    group: str | None,
    merge: bool,
) -> Plan[dict[str, Any]]:
    body: dict[str, Any] = {"merge": merge}
    if metadata is not None:
        body["metadata"] = dict(metadata)
    if group is not None:
        body["group"] = group
    call = Call("PATCH", f"{_coll(name)}/records/{_q(record_id)}", json=body)
    return dict(_body((yield call)))


def delete(name: str, record_ids: Sequence[str]) -> Plan[dict[str, bool]]:
    call = Call("POST", f"{_coll(name)}/records/delete", json={"ids": list(record_ids)})
    return dict(_body((yield call))["deleted"])


def count(name: str, filter: Mapping[str, Any] | str | None) -> Plan[int]:
    params = _filter_param(filter)
    return int(_body((yield Call("GET", f"{_coll(name)}/count", params=params)))["count"])


def list_records(
    name: str, *, filter: Mapping[str, Any] | str | None, limit: int, offset: str | None
) -> Plan[tuple[list[dict[str, Any]], str | None]]:
    params: dict[str, str | int] = {"limit": limit, **_filter_param(filter)}
    if offset is not None:
        params["offset"] = offset
    body = _body((yield Call("GET", f"{_coll(name)}/records", params=params)))
    return list(body["records"]), body.get("next_offset")


def thumbnail(name: str, record_id: str) -> Plan[bytes]:
    return bytes(_body((yield Call("GET", f"{_coll(name)}/thumbnails/{_q(record_id)}"))))


def _filter_param(filter: Mapping[str, Any] | str | None) -> dict[str, str]:
    if filter is None:
        return {}
    return {"filter": json.dumps(_filter(filter))}


def _filter(filter: Mapping[str, Any] | str) -> Any:
    """A filter given as text is sent as the JSON it holds (the server reads it as the engine
    does); text that is not JSON fails here, as it would there."""
    if not isinstance(filter, str):
        return dict(filter)
    try:
        return json.loads(filter)
    except json.JSONDecodeError as exc:
        raise InvalidFilter(f"the filter is not valid JSON: {exc}") from None


# search -------------------------------------------------------------------------------------


def search(
    name: str, image: Any, query: dict[str, Any], max_bytes: int
) -> Plan[list[SearchResult]]:
    """``query`` holds the JSON options; ``image`` (bytes, a PIL image, a path or a URL) is
    sent as ``image_url`` when a URL, else uploaded."""
    body: dict[str, Any] = {}
    for key, value in query.items():
        if value is None or (key in ("positive", "negative", "group") and not value):
            continue  # the defaults: left out
        if key in ("positive", "negative", "region", "box"):
            value = list(value)
        elif key == "vector":
            value = [float(x) for x in value]  # numpy arrays too
        elif key == "filter":
            value = _filter(value)
        body[key] = value
    path = f"{_coll(name)}/search"
    if image is None:
        call = Call("POST", path, json=body)
    elif isinstance(image, str | os.PathLike) and is_url(os.fspath(image)):
        call = Call("POST", path, json={**body, "image_url": os.fspath(image)})
    else:
        data, filename = _query_image(image, max_bytes)
        files = [("image", (filename, data, _mime(filename)))]
        call = Call("POST", f"{path}/upload", files=files, data={"query": json.dumps(body)})
    results = _body((yield call))["results"]
    return [from_dict(SearchResult, r) for r in results]


def moderate(name: str | None, image: Any, max_bytes: int) -> Plan[dict[str, Any]]:
    """Check one image, as the server would (``name`` None) or as indexing into the collection
    ``name`` would; the image is sent as a search's query image is."""
    path = "/moderate" if name is None else f"{_coll(name)}/moderate"
    if isinstance(image, str | os.PathLike) and is_url(os.fspath(image)):
        call = Call("POST", path, json={"image_url": os.fspath(image)})
    else:
        data, filename = _query_image(image, max_bytes)
        call = Call("POST", path, files=[("image", (filename, data, _mime(filename)))])
    return dict(_body((yield call)))


def _query_image(image: Any, max_bytes: int) -> tuple[bytes, str]:
    """The query image's bytes and a name for them, read as the engine reads a query image."""
    if isinstance(image, bytes | bytearray):
        return bytes(image), "query"
    if _is_pil(image):
        return encode_image(image), "query.png"
    text = os.fspath(image)
    path = Path(text)
    if not path.is_file():
        raise NotFound(f"query image {text} does not exist")
    return read_file_bytes(path, max_bytes=max_bytes), path.name


def duplicates(name: str, *, threshold: float | None, keep: str) -> Plan[list[Cluster]]:
    body: dict[str, Any] = {"keep": keep}
    if threshold is not None:
        body["threshold"] = threshold
    reply = _body((yield Call("POST", f"{_coll(name)}/duplicates", json=body, timeout=3600.0)))
    return [from_dict(Cluster, c) for c in reply["clusters"]]


# people -------------------------------------------------------------------------------------


def people(name: str) -> Plan[list[Person]]:
    body = _body((yield Call("GET", f"{_coll(name)}/people")))
    return [from_dict(Person, p) for p in body]


def cluster_people(name: str, *, full: bool) -> Plan[ClusterReport]:
    call = Call("POST", f"{_coll(name)}/people/cluster", json={"full": full}, timeout=3600.0)
    return from_dict(ClusterReport, _body((yield call)))


def name_person(name: str, person: int | str, new_name: str | None) -> Plan[int]:
    call = Call("PATCH", _person(name, person), json={"name": new_name})
    return int(_body((yield call))["id"])


def merge_people(name: str, persons: Sequence[int | str], into: int | str | None) -> Plan[int]:
    body: dict[str, Any] = {"people": list(persons)}
    if into is not None:
        body["into"] = into
    call = Call("POST", f"{_coll(name)}/people/merge", json=body)
    return int(_body((yield call))["id"])


def split_person(name: str, person: int | str, faces: Sequence[str | tuple[str, int]]) -> Plan[int]:
    """Faces go as objects, so a record id holding ``#`` is never read as ``id#face``."""
    refs = [{"id": f[0], "face": int(f[1])} if isinstance(f, tuple) else {"id": f} for f in faces]
    call = Call("POST", f"{_person(name, person)}/split", json={"faces": refs})
    return int(_body((yield call))["id"])


def _person(name: str, person: int | str) -> str:
    return f"{_coll(name)}/people/{_q(str(person))}"


# adding records -----------------------------------------------------------------------------


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
    if on_duplicate not in ON_DUPLICATE:
        raise BadInput(f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}")
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


def as_item(spec: Any, max_bytes: int) -> Item | ItemError:
    """An item from what a caller may add: an ``Item``, a dict as ``Collection.add`` takes
    (``data`` may be a PIL image), a path, a URL, bytes or a PIL image."""
    if isinstance(spec, Item | ItemError):
        return spec
    if isinstance(spec, Mapping):
        given = dict(spec)
        if _is_pil(given.get("data")):
            given["data"] = encode_image(given["data"])
    elif isinstance(spec, bytes | bytearray):
        given = {"data": bytes(spec)}
    elif _is_pil(spec):
        given = {"data": encode_image(spec)}
    elif isinstance(spec, str | os.PathLike):
        text = os.fspath(spec)
        given = {"url": text} if "://" in text else {"path": text}
    else:
        kind = type(spec).__name__
        message = f"cannot add a {kind}: give a path, a URL, bytes, a PIL image or a dict"
        return ItemError(kind, BadInput(message))
    try:
        return item_from_dict(given, max_bytes=max_bytes)
    except BadInput as exc:
        label = given.get("id") or given.get("path") or given.get("url") or "item"
        return ItemError(str(label), exc)


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
    call = Call("POST", f"{_coll(name)}/records", json=body, timeout=UPLOAD_TIMEOUT)
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
    files = [("files", (e.item.source, e.data, _mime(e.item.source))) for e in chunk]
    call = Call(
        "POST", f"{_coll(name)}/records/upload", files=files, data=fields, timeout=UPLOAD_TIMEOUT
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
        body = yield from wait_job(_job_of(reply.body)["id"], run.emit)
    else:
        body = _report_of(reply.body)
    run.merge(body, [(e.index, e.item.source) for e in chunk])


def _report_of(body: Any) -> dict[str, Any]:
    report = body.get("report", body) if isinstance(body, dict) else None
    if not isinstance(report, dict):
        raise BadInput(f"the server answered without an ingest report: {str(body)[:200]}")
    return report


def _job_of(body: Any) -> dict[str, Any]:
    job = body.get("job", body) if isinstance(body, dict) else None
    if not isinstance(job, dict) or "id" not in job:
        raise BadInput(f"the server answered 202 without a job: {str(body)[:200]}")
    return job


# jobs ---------------------------------------------------------------------------------------


def list_jobs() -> Plan[list[dict[str, Any]]]:
    body = _body((yield Call("GET", "/jobs")))
    return list(body["jobs"] if isinstance(body, dict) else body)


def get_job(job_id: str) -> Plan[dict[str, Any]]:
    return _job_of(_body((yield Call("GET", f"/jobs/{_q(job_id)}"))))


def wait_job(
    job_id: str, on_progress: Callable[[int, int, int], None] | None = None
) -> Plan[dict[str, Any]]:
    """Poll a job until it ends; its final report, or the error it ended with.
    ``on_progress(done, indexed, failed)`` sees each poll."""
    delay = 0.1
    while True:
        job = yield from get_job(job_id)
        if on_progress is not None:
            failed = job.get("failed") or 0
            failed = len(failed) if isinstance(failed, list) else int(failed)
            done = int(job.get("done") or 0)
            on_progress(done, int(job.get("indexed", done - failed)), failed)
        if job.get("status") in RUNNING:
            yield Pause(delay)
            delay = min(1.0, delay * 1.5)
            continue
        if job.get("report") is not None:
            return dict(job["report"])
        error = job.get("error")
        raise error_from(error if isinstance(error, dict) else {"message": str(error)})


# images -------------------------------------------------------------------------------------


def _is_pil(obj: Any) -> bool:
    from PIL import Image

    return isinstance(obj, Image.Image)


def encode_image(image: Any) -> bytes:
    """A PIL image as PNG bytes (lossless, so the server sees the pixels given)."""
    out = io.BytesIO()
    if image.mode not in ("1", "L", "LA", "I", "P", "RGB", "RGBA"):
        image = image.convert("RGB")
    image.save(out, "PNG")
    return out.getvalue()


def _mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
