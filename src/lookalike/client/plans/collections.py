"""Collections: list, create (with the engine's ``exist_ok`` rule), look up, drop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lookalike.client.plans.common import body_of, coll, q
from lookalike.client.plans.jobs import RUNNING, get_job, job_of, wait_job
from lookalike.client.wire import Call, Pause, Plan, error_from
from lookalike.errors import Conflict, NotFound
from lookalike.interface import check_existing
from lookalike.signals import parse_signals
from lookalike.types import Progress, ProgressCallback, check_on_unsafe, check_precision


def list_collections() -> Plan[list[dict[str, Any]]]:
    body = body_of((yield Call("GET", "/collections")))
    return list(body["collections"])


def create_collection(
    name: str,
    *,
    signals: str | Sequence[str] | None,
    model: str | None,
    exist_ok: bool,
    thumbnails: bool | None,
    on_unsafe: str | None = None,
    precision: str | None = None,
) -> Plan[dict[str, Any]]:
    """With ``exist_ok``, an existing collection is answered when it has what is asked for
    (``Conflict`` if not), as ``Engine.create_collection`` does."""
    names = None if signals is None else list(parse_signals(signals))
    if on_unsafe is not None:
        check_on_unsafe(on_unsafe)
    if precision is not None:
        check_precision(precision)
    if model is not None and Path(model).exists():
        model = str(Path(model).resolve())  # a model folder is named by absolute path

    def matching(info: dict[str, Any]) -> dict[str, Any]:
        check_existing(
            name,
            info,
            signals=names,
            model=model,
            on_unsafe=on_unsafe,
            thumbnails=thumbnails,
            precision=precision,
        )
        return info

    if exist_ok:
        try:
            info = yield from collection_info(name)
        except NotFound:
            pass
        else:
            return matching(info)
    body: dict[str, Any] = {"name": name}
    if names is not None:
        body["signals"] = names
    if model is not None:
        body["model"] = model
    if thumbnails is not None:
        body["thumbnails"] = thumbnails  # else the server's setting
    if on_unsafe is not None:
        body["on_unsafe"] = on_unsafe
    if precision is not None:
        body["precision"] = precision
    try:
        return dict(body_of((yield Call("POST", "/collections", json=body))))
    except Conflict:
        if not exist_ok:
            raise
        info = yield from collection_info(name)  # made by another client since we looked
        return matching(info)


def collection_info(name: str) -> Plan[dict[str, Any]]:
    return dict(body_of((yield Call("GET", coll(name)))))


def drop_collection(name: str) -> Plan[None]:
    yield Call("DELETE", coll(name))


def aliases() -> Plan[dict[str, str]]:
    body = body_of((yield Call("GET", "/aliases")))
    return dict(body["aliases"])


def set_alias(alias: str, target: str | None) -> Plan[dict[str, str]]:
    path = f"/aliases/{q(alias)}"
    if target is None:
        yield Call("DELETE", path)
    else:
        yield Call("PUT", path, json={"collection": target})
    return (yield from aliases())


def reindex(
    name: str,
    *,
    model: str | None,
    signals: str | Sequence[str] | None,
    precision: str | None,
    drop_previous: bool,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> Plan[dict[str, Any]]:
    """Start the server's reindex job and poll it to its end: the job's result."""
    body: dict[str, Any] = {"drop_previous": drop_previous}
    for key, value in (("model", model), ("signals", signals), ("precision", precision)):
        if value is not None:
            body[key] = list(value) if key == "signals" and not isinstance(value, str) else value
    job = job_of(body_of((yield Call("POST", f"{coll(name)}/reindex", json=body))))
    yield from wait_job(str(job["id"]), on_progress)
    done = yield from get_job(str(job["id"]))
    return dict(done["result"])


def make_thumbnails(name: str, progress: ProgressCallback | None) -> Plan[dict[str, Any]]:
    """Start the server's thumbnails job and poll it to its end: the job's result, with every
    record's outcome (read a page at a time)."""
    job = job_of(body_of((yield Call("POST", f"{coll(name)}/thumbnails"))))
    path, delay = f"/jobs/{q(str(job['id']))}", 0.1
    while True:
        job = yield from get_job(str(job["id"]))
        if progress is not None:
            total, done = int(job.get("total") or 0), int(job.get("done") or 0)
            made, failed = int(job.get("indexed") or 0), int(job.get("failed") or 0)
            progress(Progress(total, done, made, failed, str(job.get("phase") or "thumbnails")))
        if job.get("status") not in RUNNING:
            break
        yield Pause(delay)
        delay = min(1.0, delay * 1.5)
    result = job.get("result")
    if job.get("status") != "done" or not isinstance(result, dict):
        error = job.get("error")
        raise error_from(error if isinstance(error, dict) else {"message": str(error)})
    outcomes = list(result["outcomes"])
    while result.get("next_offset") is not None:
        params = {"offset": int(result["next_offset"]), "limit": OUTCOMES_PAGE}
        result = job_of(body_of((yield Call("GET", path, params=params))))["result"]
        outcomes += result["outcomes"]
    return {**result, "outcomes": outcomes}


OUTCOMES_PAGE = 10_000
"""Outcomes read per request once a job ended."""
