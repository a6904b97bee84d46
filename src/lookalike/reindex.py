"""Reindex: a collection built again under another model, other signals or another precision
while searches keep using it as it is, then one atomic switch of its name.

The steps, for the name given (an alias, or a plain collection):

1. **plan**: the new version is ``<name>@v<N>`` (N one more than the highest there is, at least
   2). A version whose build was interrupted is continued by the next run with the same options
   (its configuration says ``reindex.state = "building"``), never started twice.
2. **build**: every record of the collection the name stands for is indexed again from its
   recorded source, a path that still exists or a URL that still answers, with its id, metadata
   and group. A record whose source is gone, or was never one to read again (uploaded bytes),
   is reported by id with the reason and not carried. Records already built are skipped by the
   ingest's own unchanged-check, which is what makes a rerun resume.
3. **catch up**: records added to the collection during the build are indexed too, records
   deleted from it are deleted from the new version.
4. **carry**: the pairs marked "not duplicates", and, when both versions have faces, the people
   table (names) and each face's person (faces matched by their box).
5. **switch**: the name becomes an alias of the new version (:meth:`Engine.switch`); a plain
   collection's old records stay under ``<name>@v1``. The previous version is kept until the
   user drops it (``drop_previous`` drops it after the switch).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.errors import BadInput, Conflict
from lookalike.payload import FACES, GROUP, METADATA, PATH, SOURCE
from lookalike.signals import parse_signals
from lookalike.signals.duplicate.dismissed import CONFIG_KEY as DISMISSED_KEY
from lookalike.signals.faces.people import TABLE_KEY as PEOPLE_KEY
from lookalike.sources import Item, is_url
from lookalike.store.base import StoredPoint, scroll_all
from lookalike.types import (
    MissingSource,
    Precision,
    Progress,
    ProgressCallback,
    ReindexReport,
    check_precision,
)

if TYPE_CHECKING:
    from lookalike.interface import LocalCollection, LocalEngine

__all__ = ["PAGE", "reindex", "version_name"]

PAGE = 1024
"""Records indexed per ingest run (the listing is never held whole)."""
MODEL_SIGNALS = frozenset({"semantic", "objects"})
"""Signals that embed with the collection's model."""
STATE_KEY = "reindex"
"""Configuration key of a version: what it was built from, and whether it is complete."""


def version_name(name: str, number: int) -> str:
    return f"{name}@v{number}"


def reindex(
    engine: LocalEngine,
    name: str,
    *,
    model: str | None = None,
    signals: str | Sequence[str] | None = None,
    precision: Precision | None = None,
    drop_previous: bool = False,
    progress: ProgressCallback | None = None,
) -> ReindexReport:
    """Build ``name`` again with ``model`` and/or ``signals`` (unchanged when ``None``), then
    switch ``name`` to the new version; see the module's docstring for the steps."""
    start = time.perf_counter()
    aliases = engine.store.aliases()
    versioned = [a for a, t in aliases.items() if t == name and name.startswith(f"{a}@v")]
    if versioned:
        raise BadInput(
            f"{name!r} is a version named by alias {versioned[0]!r}: reindex {versioned[0]!r}",
            detail={"collection": name, "alias": versioned[0]},
        )
    old = engine.collection(name)
    options = new_version_options(old.config, model=model, signals=signals, precision=precision)
    new = _version(engine, name, old, options)
    report = ReindexReport(
        name=name, previous=old.name, current=new.name, records=0, indexed=0, already_there=0
    )
    _build(old, new, report, progress)
    _catch_up(old, new, report, progress)
    report.people_carried = _carry(old, new)
    new.store.update_config({STATE_KEY: {**new.config[STATE_KEY], "state": "done"}})
    new.config = new.store.config()
    plain = name not in engine.store.aliases()
    engine.switch(name, new.name, keep_as=version_name(name, 1))
    if plain:  # the previous records now go by their version's name
        report.previous = version_name(name, 1)
    if drop_previous:
        engine.drop_collection(report.previous)
        report.previous_dropped = True
    report.seconds = time.perf_counter() - start
    return report


def new_version_options(
    config: dict[str, Any],
    *,
    model: str | None,
    signals: str | Sequence[str] | None,
    precision: Precision | None,
) -> dict[str, Any]:
    """The new version's ``create_collection`` options: the old ones (``config``), with what is
    asked. Raises ``BadInput`` for a choice that cannot work, so that a server can refuse it
    before it starts a job that would fail with it."""
    if precision is not None:
        check_precision(precision)
    names = list(parse_signals(signals)) if signals is not None else list(config["signals"])
    uses_model = bool(MODEL_SIGNALS & set(names))
    chosen = model or config.get("model")
    if chosen and Path(chosen).exists():
        chosen = str(Path(chosen).resolve())
    if uses_model and not chosen:
        raise BadInput("the new signals embed with a model: give --model")
    if precision not in (None, "fp32") and not uses_model:
        raise BadInput("precision is the semantic model's: keep or add the semantic signal")
    return {
        "signals": names,
        "model": chosen if uses_model else None,
        "precision": (precision or config.get("precision") or "fp32") if uses_model else None,
        "on_unsafe": config.get("on_unsafe", "allow"),
        "thumbnails": bool(config.get("thumbnails", False)),
    }


def _version(
    engine: LocalEngine, name: str, old: LocalCollection, options: dict[str, Any]
) -> LocalCollection:
    """The version being built for ``name``: an unfinished one (continued), else a new one."""
    pattern = re.compile(re.escape(name) + r"@v(\d+)$")
    numbers = {}
    for existing in engine.list_collections():
        found = pattern.match(existing)
        if found:
            numbers[int(found.group(1))] = existing
    for number in sorted(numbers, reverse=True):
        candidate = numbers[number]
        if candidate == old.name or number == 1:  # v1: a plain collection's records, kept
            continue
        state = engine.collection(candidate).config.get(STATE_KEY) or {}
        if state.get("of") == name and state.get("state") == "building":
            keys = ("signals", "model", "precision")
            asked = {k: options[k] for k in keys}
            had = {k: state.get(k) for k in keys}
            if asked != had:
                raise Conflict(
                    f"{candidate!r} is an unfinished reindex of {name!r} with {had}; rerun it "
                    f"with the same options to finish it, or drop {candidate!r} first",
                    detail={"version": candidate, "options": had},
                )
            return engine.collection(candidate)
    number = max([1, *numbers]) + 1
    new = engine.create_collection(version_name(name, number), **options)
    state = {
        "of": name,
        "from": old.name,
        "state": "building",
        "signals": options["signals"],
        "model": options["model"],
        "precision": options["precision"],
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    new.store.update_config({STATE_KEY: state})
    new.config = new.store.config()
    return new


def recorded_item(point: StoredPoint) -> Item | MissingSource:
    """The record as an ingest item read from its recorded source, or why it cannot be."""
    payload = point.payload
    source = payload.get(SOURCE)
    common: dict[str, Any] = {
        "metadata": dict(payload.get(METADATA) or {}),
        "group": payload.get(GROUP),
    }
    if isinstance(source, str) and is_url(source):
        return Item(id=point.id, source=source, url=source, **common)
    if not isinstance(source, str) or source in ("bytes", "base64") or source.startswith("bytes:"):
        return MissingSource(
            point.id, source, "no_source", "indexed from uploaded bytes: no source to read again"
        )
    recorded = payload.get(PATH)  # the absolute path, where the source may be relative
    path = Path(recorded if isinstance(recorded, str) and recorded else source)
    if not path.is_file():
        return MissingSource(point.id, source, "not_found", f"{source}: no such file any more")
    return Item(id=point.id, source=source, path=path.absolute(), **common)


def _pages(points: Iterator[StoredPoint]) -> Iterator[list[StoredPoint]]:
    page: list[StoredPoint] = []
    for p in points:
        page.append(p)
        if len(page) >= PAGE:
            yield page
            page = []
    if page:
        yield page


def _index(
    new: LocalCollection,
    points: Sequence[StoredPoint],
    report: ReindexReport,
    progress: ProgressCallback | None,
) -> None:
    items: list[Item] = []
    for p in points:
        entry = recorded_item(p)
        if isinstance(entry, MissingSource):
            report.missing.append(entry)
        else:
            items.append(entry)
    base = report.records - len(points)
    gone = len(points) - len(items)

    def relay(p: Progress) -> None:
        if progress is not None:
            done = base + gone + p.done
            progress(Progress(report.records, done, report.indexed + p.indexed, p.failed, p.phase))

    if not items:
        relay(Progress(0, 0, 0, 0))
        return
    ingest = new.add(items, progress=relay)
    report.indexed += ingest.indexed
    report.already_there += ingest.skipped + ingest.updated
    for outcome in ingest.outcomes:
        if outcome.status == "failed" and outcome.id is not None:
            report.missing.append(
                MissingSource(
                    outcome.id, outcome.source, outcome.code or "failed", outcome.message or ""
                )
            )


def _build(
    old: LocalCollection,
    new: LocalCollection,
    report: ReindexReport,
    progress: ProgressCallback | None,
) -> None:
    report.records = old.store.count()
    seen = 0
    for page in _pages(scroll_all(old.store, page=512)):
        seen += len(page)
        report.records = max(report.records, seen)  # records added while it runs
        _index(new, page, report, progress)


def _ids(collection: LocalCollection) -> set[str]:
    return {p.id for p in scroll_all(collection.store, page=1024)}


def _catch_up(
    old: LocalCollection,
    new: LocalCollection,
    report: ReindexReport,
    progress: ProgressCallback | None,
) -> None:
    """Records added to or deleted from the old version while the new one was built."""
    before, after = _ids(old), _ids(new)
    missing = {m.id for m in report.missing}
    added = sorted(before - after - missing)
    deleted = sorted(after - before)
    if deleted:
        new.store.delete(deleted)
    for start in range(0, len(added), PAGE):
        page = old.store.retrieve(added[start : start + PAGE])
        report.records += len(page)
        _index(new, page, report, progress)


def _carry(old: LocalCollection, new: LocalCollection) -> int:
    """Carry what is not in the images: pairs marked not duplicates, and people (the table of
    names, and each face's person where the new version found the face at the same place).
    Answers the faces that kept their person."""
    changes: dict[str, Any] = {}
    dismissed = old.store.config().get(DISMISSED_KEY)
    if dismissed:
        changes[DISMISSED_KEY] = dismissed
    both_faces = "faces" in old.config["signals"] and "faces" in new.config["signals"]
    table = old.store.config().get(PEOPLE_KEY)
    if both_faces and table is not None:
        changes[PEOPLE_KEY] = table
    if changes:
        new.store.update_config(changes)
        new.config = new.store.config()
    if not both_faces or table is None:
        return 0
    carried = 0
    for page in _pages(scroll_all(new.store, page=512)):
        with_faces = [p for p in page if p.payload.get(FACES)]
        before = {
            p.id: p.payload.get(FACES) or [] for p in old.store.retrieve([p.id for p in with_faces])
        }
        for p in with_faces:
            faces, n = _matched(p.payload.get(FACES) or [], before.get(p.id, []))
            carried += n
            people = sorted({f["person"] for f in faces if f.get("person") is not None})
            pending = any(f.get("person") is None for f in faces)
            new.store.set_payload(
                [p.id], {FACES: faces, PEOPLE_KEY: people, "faces_pending": pending}
            )
    if "faces" in new.config["signals"]:
        new.cluster_people()  # faces found only now join the people there are, or start new
    return carried


def _matched(
    faces: list[dict[str, Any]], old: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """``faces`` with the person of the old face each one overlaps most (IoU at least 0.5)."""
    out, n = [], 0
    for face in faces:
        best, best_iou = None, 0.5
        for previous in old:
            overlap = _iou(face.get("box"), previous.get("box"))
            if overlap >= best_iou and previous.get("person") is not None:
                best, best_iou = previous["person"], overlap
        out.append({**face, "person": best})
        n += best is not None
    return out, n


def _iou(a: Any, b: Any) -> float:
    """Overlap of two ``[left, top, right, bottom]`` boxes."""
    if not a or not b or len(a) != 4 or len(b) != 4:
        return 0.0
    al, at, ar, ab = (float(v) for v in a)
    bl, bt, br, bb = (float(v) for v in b)
    inter = max(0.0, min(ar, br) - max(al, bl)) * max(0.0, min(ab, bb) - max(at, bt))
    union = (ar - al) * (ab - at) + (br - bl) * (bb - bt) - inter
    return inter / union if union > 0 else 0.0
