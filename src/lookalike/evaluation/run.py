"""Evaluations end to end: a labelled set indexed into one collection per configuration and
queried by a protocol, or an existing collection queried by its own groups or a queries file.

This is the Python entry point behind ``lookalike eval``, ``Engine.evaluate``,
``Collection.evaluate`` and the REST route; callers choosing between configurations (models,
signals, grouping strategies) pass them as :class:`Variant` objects."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.errors import BadInput, InvalidQuery
from lookalike.evaluation.metrics import at_threshold, summarize, threshold_for_precision
from lookalike.evaluation.protocols import Labelled, QuerySpec, check_protocol, plan
from lookalike.evaluation.results import EvalReport, VariantResult
from lookalike.evaluation.runner import RankBy, StateFile, check_rank_by, run_queries
from lookalike.payload import GROUP, SOURCE
from lookalike.scoring import check_threshold
from lookalike.search import MAX_TOP_K
from lookalike.signals import default_signal
from lookalike.sources import Item, ItemError, iter_items
from lookalike.store.base import scroll_all

if TYPE_CHECKING:
    from lookalike.interface import LocalCollection, LocalEngine

__all__ = [
    "DEFAULT_KS",
    "PhaseCallback",
    "Variant",
    "evaluate_collection",
    "evaluate_dataset",
    "load_dataset",
    "load_queries",
    "versions",
]

DEFAULT_KS = (1, 3)
"""The k of top-k accuracy and recall@k always reported (the talk's top-1 and top-3), besides
the run's ``top_k``."""

PhaseCallback = Callable[[str, int, int], None]
"""Called with (phase, done, total): ``index NAME`` while a configuration's collection is
built, ``query NAME`` while its queries run."""


@dataclass(frozen=True)
class Variant:
    """One configuration to evaluate: how its collection is made (``create``: the options of
    ``Engine.create_collection``, e.g. ``signals``, ``model``) and how it is searched
    (``search``: options of ``Collection.search``, e.g. ``signal``)."""

    name: str
    create: Mapping[str, Any] = field(default_factory=dict)
    search: Mapping[str, Any] = field(default_factory=dict)


def versions() -> dict[str, str]:
    """Versions of what decides the figures: lookalike, Python and the model runtimes."""
    import platform

    out = {"python": platform.python_version()}
    for name in ("lookalike", "numpy", "onnxruntime", "fastembed", "qdrant-edge-py", "pillow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


# inputs -------------------------------------------------------------------------------------


def load_dataset(
    source: str | os.PathLike[str], *, max_bytes: int | None = None
) -> tuple[list[Item], list[ItemError]]:
    """A labelled set: a folder with one subfolder per group (product, class, person), or a
    JSONL catalog whose lines carry ``group``. Unreadable entries are returned apart."""
    path = Path(source)
    if not path.exists():
        raise BadInput(f"{source}: no such folder or file")
    options: dict[str, Any] = {"group_by_folder": path.is_dir()}
    if max_bytes is not None:
        options["max_bytes"] = max_bytes
    items: list[Item] = []
    errors: list[ItemError] = []
    for entry in iter_items([str(path)], **options):
        if isinstance(entry, Item):
            items.append(entry)
        else:
            errors.append(entry)
    return items, errors


def load_queries(source: str | os.PathLike[str]) -> list[QuerySpec]:
    """A queries file: JSON lines, each a record ``id`` or an ``image`` (path, relative to the
    file, or URL), with the right answers as ``expected`` (record ids) and/or ``group``."""
    path = Path(source)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise BadInput(f"cannot read queries file {source}: {exc.strerror}") from None
    specs: list[QuerySpec] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise BadInput(f"{source}:{n}: not a JSON object") from None
        if not isinstance(entry, dict):
            raise BadInput(f"{source}:{n}: not a JSON object")
        rid, image = entry.get("id"), entry.get("image")
        if (rid is None) == (image is None):
            raise BadInput(f"{source}:{n}: give one of id or image")
        expected = entry.get("expected", [])
        if isinstance(expected, str):
            expected = [expected]
        group = entry.get("group")
        if not expected and group is None:
            raise BadInput(f"{source}:{n}: give the right answers: expected ids or a group")
        if image is not None and "://" not in str(image):
            image = str((path.parent / str(image)).resolve())
        specs.append(
            QuerySpec(
                label=str(rid if rid is not None else image),
                id=None if rid is None else str(rid),
                image=None if image is None else str(image),
                group=None if group is None else str(group),
                expected=tuple(str(e) for e in expected),
                source=None if image is None else str(image),
            )
        )
    if not specs:
        raise BadInput(f"queries file {source} holds no query")
    return specs


# one collection -----------------------------------------------------------------------------


def evaluate_collection(
    collection: LocalCollection,
    *,
    queries: Sequence[QuerySpec] | None = None,
    protocol: str = "leave-one-out",
    top_k: int = 10,
    rank_by: str | None = None,
    seed: int | None = None,
    query_fraction: float = 0.2,
    search: Mapping[str, Any] | None = None,
    threshold: float | None = None,
    target_precision: float = 0.99,
    name: str | None = None,
    state_file: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Evaluate a collection as it is: with ``queries`` (see :func:`load_queries`), or by
    ``protocol`` over the groups its records carry (queries by record id, by id order)."""
    _check_options(top_k, threshold, target_precision)
    excluded: tuple[str, ...] = ()
    used_seed: int | None = None
    if queries is None:
        labelled = _records(collection)
        p = plan(labelled, protocol, seed=seed, query_fraction=query_fraction)
        queries, excluded, used_seed = p.queries, p.excluded, p.seed
        groups = len({item.group for item in labelled if item.group is not None})
        images = len(labelled)
    else:
        protocol = "queries"
        images = collection.count()
        groups = len({q.group for q in queries if q.group is not None})
    by = _rank_by(rank_by, queries)
    if by == "record" and protocol == "queries":
        queries = [_with_catalog_size(collection, q) for q in queries]
    result = _evaluate(
        collection,
        name or collection.name,
        queries,
        excluded=excluded,
        top_k=top_k,
        rank_by=by,
        search=search or {},
        threshold=threshold,
        target_precision=target_precision,
        state=None if state_file is None else Path(state_file),
        fingerprint={"protocol": protocol, "seed": used_seed, "fraction": query_fraction},
        progress=progress,
    )
    return EvalReport(
        protocol=protocol,
        rank_by=by,
        top_k=top_k,
        ks=_ks(top_k),
        seed=used_seed,
        dataset=f"collection {collection.name}",
        images=images,
        groups=groups,
        variants=[result],
        versions=versions(),
    )


def _records(collection: LocalCollection) -> list[Labelled]:
    points = scroll_all(collection.store, page=512)
    items = [Labelled(p.id, p.payload.get(GROUP), p.payload.get(SOURCE)) for p in points]
    return sorted(items, key=lambda item: item.id)


def _with_catalog_size(collection: LocalCollection, q: QuerySpec) -> QuerySpec:
    """A group query ranking records: how many records of its group there are to find."""
    if q.expected or q.group is None:
        return q
    size = collection.count({"group": q.group})
    if q.id is not None and collection.count({"id": q.id, "group": q.group}):
        size -= 1  # the query record itself is never returned
    return QuerySpec(q.label, q.id, q.image, q.group, q.expected, q.source, size)


# a labelled set, several configurations -----------------------------------------------------


def evaluate_dataset(
    engine: LocalEngine,
    items: Sequence[Item] | Sequence[Labelled],
    variants: Sequence[Variant],
    *,
    protocol: str = "first",
    top_k: int = 10,
    rank_by: str = "group",
    seed: int | None = None,
    query_fraction: float = 0.2,
    threshold: float | None = None,
    target_precision: float = 0.99,
    dataset: str = "",
    skipped: Iterable[ItemError] = (),
    state_dir: str | os.PathLike[str] | None = None,
    progress: PhaseCallback | None = None,
) -> EvalReport:
    """Index ``items`` into one collection of ``engine`` per distinct ``create`` of the
    variants (reused when it exists: a rerun indexes nothing again), then run the protocol's
    queries on each variant. Items are :class:`~lookalike.sources.Item` (to index) or
    :class:`Labelled` records already in those collections."""
    _check_options(top_k, threshold, target_precision)
    if not variants:
        raise BadInput("give at least one configuration to evaluate")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise BadInput(f"two configurations share a name: {', '.join(names)}")
    check_protocol(protocol)
    by = check_rank_by(rank_by)
    labelled = [
        Labelled(i.id, i.group, i.source if isinstance(i, Item) else i.source) for i in items
    ]
    p = plan(labelled, protocol, seed=seed, query_fraction=query_fraction)
    fingerprint = _fingerprint(labelled)
    results = []
    for variant in variants:
        collection = _collection_for(engine, variant, items, fingerprint, progress)
        state = None
        if state_dir is not None:
            state = Path(state_dir) / f"{collection.name}-{_slug(variant.name)}.jsonl"
        results.append(
            _evaluate(
                collection,
                variant.name,
                p.queries,
                excluded=p.excluded,
                top_k=top_k,
                rank_by=by,
                search=variant.search,
                threshold=threshold,
                target_precision=target_precision,
                state=state,
                fingerprint={
                    "protocol": protocol,
                    "seed": p.seed,
                    "fraction": query_fraction,
                    "dataset": fingerprint,
                },
                progress=_phase(progress, f"query {variant.name}"),
            )
        )
    return EvalReport(
        protocol=protocol,
        rank_by=by,
        top_k=top_k,
        ks=_ks(top_k),
        seed=p.seed,
        dataset=dataset,
        images=len(labelled),
        groups=len({i.group for i in labelled if i.group is not None}),
        variants=results,
        skipped=[{"source": e.source, "error": e.error.message} for e in skipped],
        versions=versions(),
    )


def _collection_for(
    engine: LocalEngine,
    variant: Variant,
    items: Sequence[Item] | Sequence[Labelled],
    fingerprint: str,
    progress: PhaseCallback | None,
) -> LocalCollection:
    """The variant's collection, named after the data and its ``create`` options, holding
    every item (a rerun skips the unchanged ones)."""
    create = dict(variant.create)
    key = json.dumps({"data": fingerprint, "create": create}, sort_keys=True, default=str)
    name = "eval-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    collection = engine.create_collection(name, exist_ok=True, **create)
    to_index = [i for i in items if isinstance(i, Item)]
    if to_index:
        tick = _phase(progress, f"index {variant.name}")

        def show(p: Any) -> None:
            if tick is not None:
                tick(p.done, p.total)

        collection.add(to_index, progress=show)
    return collection


def _fingerprint(items: Sequence[Labelled]) -> str:
    text = json.dumps([(i.id, i.group, i.source) for i in items])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:64]


def _phase(progress: PhaseCallback | None, phase: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(phase, done, total)


# shared -------------------------------------------------------------------------------------


def _check_options(top_k: int, threshold: float | None, target_precision: float) -> None:
    """Refuse what would fail every query, or be reported on, before anything is indexed or
    searched: a wrong value found at the end would cost the whole run."""
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidQuery(f"top_k must be between 1 and {MAX_TOP_K}, not {top_k}")
    check_threshold(threshold)
    if not 0.0 < target_precision <= 1.0:
        raise BadInput(f"target_precision must be in (0, 1], not {target_precision}")


def _ks(top_k: int) -> list[int]:
    return sorted({k for k in DEFAULT_KS if k <= top_k} | {top_k})


def _rank_by(value: str | None, queries: Sequence[QuerySpec]) -> RankBy:
    if value is not None:
        return check_rank_by(value)
    return "group" if all(q.group is not None and not q.expected for q in queries) else "record"


def _evaluate(
    collection: LocalCollection,
    name: str,
    queries: Sequence[QuerySpec],
    *,
    excluded: Sequence[str],
    top_k: int,
    rank_by: RankBy,
    search: Mapping[str, Any],
    threshold: float | None,
    target_precision: float,
    state: Path | None,
    fingerprint: Mapping[str, Any],
    progress: Callable[[int, int], None] | None,
) -> VariantResult:
    signal = str(
        search.get("signal")
        or default_signal(collection.config["signals"], text=False, person=False)
    )
    state_file = None
    if state is not None:
        state_file = StateFile(
            state,
            {
                **fingerprint,
                "collection": collection.name,
                "model_id": collection.config.get("model_id"),
                "count": collection.count(),
                "top_k": top_k,
                "rank_by": rank_by,
                "search": dict(search),
                "excluded": list(excluded),
                "queries": [_query_key(q) for q in queries],
            },
        )
    results, resumed = run_queries(
        collection,
        queries,
        top_k=top_k,
        rank_by=rank_by,
        excluded=excluded,
        search=search,
        state=state_file,
        progress=progress,
    )
    configured = threshold if threshold is not None else _configured_threshold(collection, signal)
    return VariantResult(
        name=name,
        collection=collection.name,
        config={k: collection.config.get(k) for k in ("signals", "model", "model_id", "dims")},
        search=dict(search),
        signal=signal,
        results=results,
        summary=summarize(results, _ks(top_k)),
        threshold=None if configured is None else at_threshold(results, configured),
        target_precision=target_precision,
        for_precision=threshold_for_precision(results, target_precision),
        resumed=resumed,
    )


def _query_key(q: QuerySpec) -> dict[str, Any]:
    """All that decides a query's recorded result: its right answers as well as what it
    searches by, and the query image file's size and time, so that a changed answer key or
    image runs the query again instead of resuming a stale result."""
    key: dict[str, Any] = asdict(q)
    if q.image is not None and "://" not in q.image:
        try:
            stat = os.stat(q.image)
        except OSError:
            pass  # a missing image fails as it is run
        else:
            key["file"] = [stat.st_size, stat.st_mtime_ns]
    return key


def _configured_threshold(collection: LocalCollection, signal: str) -> float | None:
    """The score from which the signal calls two images the same: a copy (duplicate) or the
    same person (faces). Similarity signals have none."""
    if signal == "duplicate":
        return collection.copy_threshold
    if signal == "faces":
        return collection.settings.face_cluster_threshold
    return None
