"""Engine and Collection: the composition root and the ingest/search flow.

``Engine`` builds the real parts from :class:`~lookalike.config.Settings` (the store, signals,
models); a ``Collection`` is one named set of records with one configuration. The CLI, the API
and the SDK only call these.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lookalike.config import Settings
from lookalike.decode_workers import DecodePool, decode_plan, wants_pool
from lookalike.errors import BadInput, ConfigChanged, Conflict, ModelMismatch, NotFound
from lookalike.fieldsummary import summarize
from lookalike.filters import HasIds, Not, parse_filter
from lookalike.images import decode, set_pixel_budget
from lookalike.ingest import Ingest
from lookalike.interface import check_existing
from lookalike.payload import (
    CONTENT_HASH,
    DUPLICATE_OF,
    FACES,
    FORMAT,
    GROUP,
    HEIGHT,
    INDEXED_AT,
    METADATA,
    MODEL,
    SIGNAL_FIELDS,
    SOURCE,
    THUMBNAIL,
    WIDTH,
    check_metadata,
)
from lookalike.priority import Lane
from lookalike.search import Query, Searcher, examples, image_bytes
from lookalike.signals import build_signal, parse_signals
from lookalike.signals.base import Signal
from lookalike.signals.duplicate.clusters import find_clusters
from lookalike.signals.duplicate.copies import find_copies, record_copy_query
from lookalike.signals.duplicate.dismissed import CONFIG_KEY as DISMISSED_KEY
from lookalike.signals.duplicate.dismissed import pair, read_pairs, without_dismissed
from lookalike.signals.faces.people import People
from lookalike.signals.moderation import INPUT_SIDE, ModerationSignal
from lookalike.sources import Item, as_item, iter_items
from lookalike.store import Store, open_store
from lookalike.store.aliases import check_drop
from lookalike.store.backup import backup as backup_collection
from lookalike.store.backup import restore as restore_collection
from lookalike.store.base import (
    CollectionStore,
    StoredPoint,
    revision,
    scroll_all,
    validate_name,
)
from lookalike.store.migrate import MigrateProgress
from lookalike.store.ordering import ordered_page, parse_sort
from lookalike.thumbnails import OpenFile, backfill_thumbnails, local_file
from lookalike.types import (
    COPY_THRESHOLD,
    BackupReport,
    Cluster,
    ClusterReport,
    Example,
    IngestReport,
    MigrationReport,
    OnDuplicate,
    OnUnsafe,
    Person,
    Precision,
    ProgressCallback,
    QueryImage,
    ReindexReport,
    SearchResult,
    SemanticInput,
    ThumbnailReport,
    check_on_duplicate,
    check_on_unsafe,
    check_precision,
    check_semantic_input,
)

if TYPE_CHECKING:
    from lookalike.evaluation import EvalReport, QuerySpec, Variant

__all__ = ["Collection", "Engine"]

RETIRE_AFTER = 5.0
"""Seconds a collection replaced by a switch stays open for searches already inside it."""

_T = TypeVar("_T")
_PEOPLE_TRIES = 5
"""Times an edit of the people (or another read-modify-write of the configuration) is run
again when another process changed the configuration meanwhile."""


class Engine:
    """Entry point of the Python API: ``Engine().collection("photos").search(text="red shoes")``."""

    def __init__(self, settings: Settings | None = None, *, store: Store | None = None) -> None:
        self.settings = settings or Settings.load()
        set_pixel_budget(self.settings.decode_pixel_budget)
        self.store = store or open_store(self.settings)
        self._open: dict[str, Collection] = {}
        self._lock = threading.RLock()
        """Guards the collections held open, and the name switches this engine makes."""
        self._switching: dict[str, str] = {}
        """Names this engine is switching right now (name -> new collection): a store's switch
        may take more than one step, and this process must not see the steps between."""
        self._retiring: dict[str, Collection] = {}
        """Collections a switch moved out of their name (by the name they get), closed once
        the searches in flight on them are over."""
        self.ingest_listeners: list[Callable[[str, IngestReport], None]] = []
        """Called with the collection's name and the report after each ``add`` (server metrics)."""
        self.collection_listeners: list[Callable[[str], None]] = []
        """Called with a collection's name after this engine created, dropped or switched it
        (the workers of one server tell each other, so that they let go of what they hold
        open)."""
        self.decode_pool: DecodePool | None = None
        """Decode workers kept between ingests (see :meth:`keep_decode_workers`)."""
        self.lane: Lane | None = None
        """Where heavy work runs, at a lower OS priority (see :meth:`run_heavy_work_apart`)."""

    def keep_decode_workers(self) -> None:
        """Keep the decode worker processes between ingests, with the models they loaded: for a
        long-lived process such as the server, where each job would otherwise start them anew."""
        if self.decode_pool is None:
            self.decode_pool = DecodePool(self.settings)

    def run_heavy_work_apart(self) -> None:
        """Run inserts and searches by image on threads of a lower OS priority
        (``heavy_nice``), so that searches by id or text get the cores first: for a server,
        where both arrive at once."""
        if self.lane is None and self.settings.heavy_nice > 0:
            self.lane = Lane(self.settings.heavy_nice)

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str] | None = None, **settings: Any) -> Engine:
        return cls(Settings.load(data_dir=data_dir, **settings))

    def list_collections(self) -> list[str]:
        return self.store.list_collections()

    def create_collection(
        self,
        name: str,
        *,
        signals: str | Sequence[str] | None = None,
        model: str | None = None,
        exist_ok: bool = False,
        on_unsafe: OnUnsafe | None = None,
        thumbnails: bool | None = None,
        precision: Precision | None = None,
    ) -> Collection:
        """Create a collection; with ``exist_ok`` an existing one must match what is asked.

        ``precision`` (``fp32``, ``int8``; default: the ``default_precision`` setting) is how
        the semantic model runs: ``int8`` runs its quantized copy (docs/models.md), faster on
        CPU, with vectors that never mix with fp32 ones.

        ``on_unsafe`` (``allow``, ``flag``, ``reject``; needs the moderation signal) is what
        every ingest into the collection does with images the moderation signal finds unsafe.
        ``thumbnails`` keeps a small JPEG of each image with its record (for pages showing
        results); it costs about 11 KB per record. None: the ``thumbnails`` setting (on)."""
        validate_name(name)
        names = (
            parse_signals(signals)
            if signals is not None
            else parse_signals(self.settings.default_signals)
        )
        if on_unsafe is not None:
            check_on_unsafe(on_unsafe)
        if precision is not None:
            check_precision(precision)
        model_name = model or self.settings.default_model
        if Path(model_name).exists():  # a folder: pin it by absolute path, not as typed
            model_name = str(Path(model_name).resolve())
        if name in self.store.list_collections() or (exist_ok and self.resolve(name) != name):
            if not exist_ok:
                raise Conflict(f"collection {name!r} already exists")
            collection = self.collection(name)
            check_existing(
                name,
                collection.config,
                signals=None if signals is None else names,
                model=None if model is None else model_name,
                on_unsafe=on_unsafe,
                thumbnails=thumbnails,
                precision=precision,
            )
            return collection
        if on_unsafe not in (None, "allow") and "moderation" not in names:
            raise BadInput("on_unsafe needs the moderation signal: add it to the signals")
        uses_model = bool({"semantic", "objects"} & set(names))  # both embed with the model
        if precision not in (None, "fp32") and not uses_model:
            raise BadInput("precision is the semantic model's: add the semantic signal")
        if model is not None and not uses_model:
            raise BadInput("model is the semantic signal's: add the semantic signal")
        runs: Precision = precision or self.settings.default_precision
        semantic_input: SemanticInput = "direct"  # what the config below records
        built = [
            build_signal(
                n, self.settings, model=model_name, precision=runs, semantic_input=semantic_input
            )
            for n in names
        ]
        specs = [spec for s in built for spec in s.vector_specs()]
        if not specs:
            raise BadInput(
                f"signals {','.join(names)} only add fields to records; a collection also needs "
                "one that searches (e.g. semantic or duplicate)"
            )
        config = {
            "name": name,
            "signals": list(names),
            "model": model_name if uses_model else None,
            "precision": runs if uses_model else None,
            "semantic_input": semantic_input if "semantic" in names else None,
            "model_id": _model_id(built),
            "dims": {spec.name: spec.size for spec in specs},
            "on_unsafe": on_unsafe or "allow",
            "thumbnails": self.settings.thumbnails if thumbnails is None else bool(thumbnails),
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
        self.store.create_collection(name, specs, config)
        self._changed(name)
        created = self.collection(name)
        created._adopt_signals(built)
        return created

    def resolve(self, name: str) -> str:
        """The collection a name stands for: an alias's target, else the name itself. Every
        name a user gives goes through here (by :meth:`collection`), once."""
        with self._lock:
            switching = self._switching.get(name)
        return switching if switching is not None else self.store.resolve(name)

    def collection(self, name: str) -> Collection:
        """An existing collection, by its name or an alias; opened (and locked) once per
        engine."""
        with self._lock:  # a switch (which holds it) is seen whole or not at all
            target = self.resolve(name)
            if target in self._retiring:  # the previous version, still open for a few seconds
                return self._retiring[target]
            if target not in self._open:
                self._open[target] = Collection(self, target, self.store.open_collection(target))
            return self._open[target]

    def drop_collection(self, name: str) -> None:
        """Drop a collection (never through an alias, nor one an alias names: ``Conflict``)."""
        with self._lock:
            check_drop(name, self.store.aliases())
            retiring = self._retiring.pop(name, None)
            if retiring is not None:  # dropped at once: no need to wait for searches on it
                retiring.close()
                self.store.list_collections()  # lets the store finish moving it
            if name in self._open:
                self._open.pop(name).close()
            self.store.drop_collection(name)
        self._changed(name)

    def _changed(self, name: str) -> None:
        for listener in self.collection_listeners:
            listener(name)

    def forget(self) -> None:
        """Let go of the collections held open, without closing them (requests in flight go
        on with theirs): the next use opens each again, with its configuration as the store
        holds it now. For a store that other processes change."""
        with self._lock:
            self._open.clear()

    # aliases ------------------------------------------------------------------------------

    def aliases(self) -> dict[str, str]:
        """Every alias and the collection it names."""
        return self.store.aliases()

    def set_alias(self, alias: str, target: str | None) -> dict[str, str]:
        """Create ``alias`` for collection ``target``, or switch it there (atomically: every
        search after the switch uses ``target``); ``None`` removes it. Refused: an alias named
        like a collection (``NameTaken``), a target that is no collection (``NotFound``) or an
        alias (``BadInput``). Answers every alias."""
        self.store.set_alias(alias, target)
        return self.store.aliases()

    def switch(self, name: str, target: str, *, keep_as: str) -> None:
        """Make ``name`` stand for collection ``target``: an alias is switched; a plain
        collection becomes an alias, its records kept as collection ``keep_as``."""
        with self._lock:
            self._switching[name] = target
            old = None if name in self.store.aliases() else self._open.pop(name, None)
        if old is not None:  # let go of it, or the embedded store cannot move it
            self._retire(old, keep_as)
        try:
            if name in self.store.aliases():
                self.store.set_alias(name, target)
            else:
                self.store.adopt(name, target, keep_as)
        finally:
            with self._lock:
                self._switching.pop(name, None)
        self._changed(name)

    def _retire(self, collection: Collection, keep_as: str) -> None:
        """Close a collection a little later: a search that got it just before the switch may
        still be inside it. Meanwhile it is the collection ``keep_as``: its folder moves there
        only once it is closed."""
        collection.name = keep_as
        self._retiring[keep_as] = collection

        def close() -> None:
            with self._lock:
                if self._retiring.get(keep_as) is not collection:
                    return
                del self._retiring[keep_as]
            collection.close()
            self.store.list_collections()  # lets the store finish moving it

        timer = threading.Timer(RETIRE_AFTER, close)
        timer.daemon = True
        timer.start()

    def reindex(
        self,
        name: str,
        *,
        model: str | None = None,
        signals: str | Sequence[str] | None = None,
        precision: Precision | None = None,
        drop_previous: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ReindexReport:
        """Build collection ``name`` again with another ``model``, ``signals`` and/or
        ``precision`` (``fp32``, ``int8``) from its records' sources, while searches keep
        using it; then switch ``name`` (made an alias) to the new version ``name@vN``
        atomically, keeping ids, metadata, groups and people.
        Interrupted, the next run with the same options continues it. The previous version
        is kept (dropped with ``drop_previous``). See :mod:`lookalike.reindex`."""
        from lookalike.reindex import reindex

        return reindex(
            self,
            name,
            model=model,
            signals=signals,
            precision=precision,
            drop_previous=drop_previous,
            progress=progress,
        )

    def backup(
        self, name: str, file: str | os.PathLike[str], *, progress: MigrateProgress | None = None
    ) -> BackupReport:
        """Write collection ``name`` to one file (:mod:`lookalike.store.backup`), while it stays
        open for searches and writes in this engine."""
        return backup_collection(_EngineStore(self), name, Path(file), progress=progress)

    def restore(
        self,
        file: str | os.PathLike[str],
        *,
        name: str | None = None,
        overwrite: bool = False,
        progress: MigrateProgress | None = None,
    ) -> MigrationReport:
        """Restore a backup file as collection ``name`` (default: its original name)."""
        return restore_collection(
            Path(file), _EngineStore(self), name=name, overwrite=overwrite, progress=progress
        )

    def evaluate(
        self,
        dataset: str | os.PathLike[str],
        variants: Sequence[Variant] | None = None,
        **options: Any,
    ) -> EvalReport:
        """Measure search quality on a labelled set (a folder with one subfolder per group, or
        a JSONL catalog with ``group``): one collection of this engine per configuration in
        ``variants`` (default: the engine's default signals and model), queried by a protocol
        (``first``, ``leave-one-out``, ``split``). ``options``: those of
        :func:`lookalike.evaluation.evaluate_dataset`. Use an engine on a scratch data folder:
        the collections it builds (``eval-...``) are kept, so a rerun indexes nothing again."""
        from lookalike.evaluation import Variant, evaluate_dataset, load_dataset

        items, skipped = load_dataset(dataset, max_bytes=self.settings.max_image_bytes)
        return evaluate_dataset(
            self,
            items,
            list(variants or [Variant("default")]),
            dataset=str(dataset),
            skipped=skipped,
            **options,
        )

    def moderate(self, image: QueryImage) -> dict[str, Any]:
        """Check one image (bytes, path, URL or PIL image) with the moderation signal, without
        indexing it: ``{"safe", "nsfw", "threshold", "labels"}``."""
        return self._moderate(image, self._moderation, INPUT_SIDE)

    @cached_property
    def _moderation(self) -> ModerationSignal:
        return ModerationSignal(self.settings)

    def _moderate(
        self, image: QueryImage, signal: ModerationSignal, min_side: int
    ) -> dict[str, Any]:
        data, name = image_bytes(image, self.settings)
        decoded = decode(data, name=name, min_side=min_side, max_pixels=self.settings.max_pixels)
        return signal.check(decoded)

    def close(self) -> None:
        with self._lock:  # a retiring collection's timer then finds it gone
            closing = [*self._open.values(), *self._retiring.values()]
            retired = bool(self._retiring)
            self._open.clear()
            self._retiring.clear()
        for collection in closing:
            collection.close()
        if retired:
            self.store.list_collections()  # lets the store finish moving them
        if self.decode_pool is not None:
            self.decode_pool.close()
        if self.lane is not None:
            self.lane.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _EngineStore:
    """The engine's store as a migration sees it, lending the collections this engine holds
    open (and locked) instead of opening them a second time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.store.url
        self.root = getattr(engine.store, "root", None)
        self.prefix = getattr(engine.store, "prefix", None)

    def list_collections(self) -> list[str]:
        return self.engine.store.list_collections()

    def create_collection(self, name: str, vectors: Any, config: dict[str, Any]) -> None:
        self.engine.store.create_collection(name, vectors, config)
        self.engine._changed(name)

    def open_collection(self, name: str) -> CollectionStore:
        return _Lent(self.engine.collection(name).store)

    def drop_collection(self, name: str) -> None:
        self.engine.drop_collection(name)

    def aliases(self) -> dict[str, str]:
        return self.engine.store.aliases()

    def set_alias(self, alias: str, target: str | None) -> None:
        self.engine.store.set_alias(alias, target)

    def resolve(self, name: str) -> str:
        return self.engine.resolve(name)

    def adopt(self, name: str, target: str, keep_as: str) -> None:
        self.engine.switch(name, target, keep_as=keep_as)

    def close(self) -> None:
        pass


class _Lent:
    """An open collection lent to a migration: everything but ``close``, which its owner does."""

    def __init__(self, store: CollectionStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def close(self) -> None:
        pass


class Collection:
    """One named set of records with one configuration (signals, model)."""

    def __init__(self, engine: Engine, name: str, store: CollectionStore) -> None:
        self.engine = engine
        self.name = name
        self.config = store.config()
        self.__dict__["store"] = store  # the open store; reopened after :meth:`close`
        self.settings = engine.settings
        self._model_checked = False
        self._people_lock = threading.RLock()
        """People edits rewrite the whole people table: one at a time per collection."""

    @cached_property
    def store(self) -> CollectionStore:
        return self.engine.store.open_collection(self.name)

    @property
    def precision(self) -> Precision:
        """How the semantic model runs (``fp32`` for collections made before the choice)."""
        return check_precision(self.config.get("precision") or "fp32")

    @property
    def semantic_input(self) -> SemanticInput:
        """Where the semantic tower's input comes from (``shared`` for collections made before
        the choice): ``SemanticSignal``."""
        return check_semantic_input(self.config.get("semantic_input") or "shared")

    @cached_property
    def signals(self) -> list[Signal]:
        dims = self.config.get("dims", {})
        model = self.config.get("model") or ""
        return [
            build_signal(
                n,
                self.settings,
                model=model,
                dim=dims.get(n),
                precision=self.precision,
                semantic_input=self.semantic_input,
            )
            for n in self.config["signals"]
        ]

    def _adopt_signals(self, built: list[Signal]) -> None:
        """Serve with signals already built for this configuration (those a new collection was
        made from), unless it has built its own: built again, they would load the model a second
        time (a second or more of a new collection's first ingest)."""
        self.__dict__.setdefault("signals", built)

    def model_loaded(self) -> bool:
        """Whether a model session of this collection is open (what a health probe asks, and
        it must not load one): reads the parts built so far, never builds them."""
        built = self.__dict__.get("signals") or ()
        return any(getattr(s, "__dict__", {}).get("encoder") is not None for s in built)

    def signal(self, name: str) -> Signal:
        for s in self.signals:
            if s.name == name:
                return s
        raise BadInput(
            f"collection {self.name!r} has no {name!r} signal "
            f"(it has {', '.join(self.config['signals'])})"
        )

    def _check_model(self) -> None:
        """Refuse to mix vectors of two models in one collection (checked once per open)."""
        if self._model_checked:
            return
        if "semantic" in self.config["signals"]:
            loaded = _model_id(self.signals)
            if loaded != self.config["model_id"]:
                raise ModelMismatch(
                    f"collection {self.name!r} was indexed with {self.config['model_id']}, but the "
                    f"model now loaded is {loaded}; restore those model files or index into a "
                    "new collection",
                    detail={"model_id": self.config["model_id"], "loaded": loaded},
                )
        self._model_checked = True  # only once passed: a failed check fails every later call

    # ingest -----------------------------------------------------------------------------

    def index(
        self,
        inputs: Sequence[str | os.PathLike[str]],
        *,
        metadata_file: str | os.PathLike[str] | None = None,
        group_by_folder: bool = False,
        prune: bool = False,
        on_duplicate: OnDuplicate = "allow",
        progress: ProgressCallback | None = None,
        ray: str | None = None,
        ray_workers: int | None = None,
        ray_cpus_per_worker: float = 1.0,
        ray_gpus_per_worker: float = 0.0,
    ) -> IngestReport:
        """Index folders, files, URL lists, JSONL catalogs and URLs (see ``lookalike index``).

        ``ray``: run the listing, the decoding and the signals on a Ray cluster (``"local"``
        starts one on this machine, ``"auto"`` or ``"ray://host:10001"`` joins one) with
        ``ray_workers`` worker actors (default: as many as the cluster's CPUs hold) of
        ``ray_cpus_per_worker`` CPUs and ``ray_gpus_per_worker`` GPUs each (the semantic model
        runs on a worker's GPU); the listing then reaches this process in blocks, never whole."""
        listing = partial(
            iter_items,
            [str(i) for i in inputs],
            metadata_file=Path(metadata_file) if metadata_file else None,
            group_by_folder=group_by_folder,
            max_bytes=self.settings.max_image_bytes,
        )
        roots = [Path(i) for i in inputs if prune and Path(i).is_dir()]
        if ray is not None:
            from lookalike.distributed import Resources, ray_index

            check_on_duplicate(on_duplicate)
            self._check_model()
            report = ray_index(
                self.ingest_options(progress=progress, on_duplicate=on_duplicate),
                self.signal_recipe(),
                listing,
                address=ray,
                workers=Resources(ray_workers, ray_cpus_per_worker, ray_gpus_per_worker),
                prune_roots=roots,
            )
            self._after_ingest(report)
            return report
        items = list(listing())
        return self.add(items, progress=progress, prune_roots=roots, on_duplicate=on_duplicate)

    def add(
        self,
        items: Iterable[Any],
        *,
        progress: ProgressCallback | None = None,
        prune_roots: Sequence[Path] = (),
        on_duplicate: OnDuplicate = "allow",
    ) -> IngestReport:
        """Add records: dicts with ``id`` and one of ``path``/``url``/``data`` (bytes or a PIL
        image), ``base64``, plus ``metadata`` and ``group``; or paths (the id is the file
        name), http(s) URLs, bytes, PIL images, :class:`Item` objects.

        ``on_duplicate`` checks each new image against the collection first: ``flag`` records
        ``duplicate_of``, ``skip`` leaves copies out, ``reject`` fails them."""
        lane = self.engine.lane
        if lane is not None and not lane.inside():
            return lane.run(
                self.add,
                items,
                progress=progress,
                prune_roots=prune_roots,
                on_duplicate=on_duplicate,
            )
        check_on_duplicate(on_duplicate)
        limit = self.settings.max_image_bytes
        batch = [as_item(i, limit) for i in items]
        pool, own = self.engine.decode_pool, None
        if pool is None and wants_pool(self.settings, sum(isinstance(i, Item) for i in batch)):
            # the workers start while the models load below, instead of after
            pool = own = DecodePool(self.settings)
            own.start(decode_plan(self.signals, self.settings, thumbnails=self.thumbnails))
        try:
            self._check_model()
            options = self.ingest_options(progress=progress, on_duplicate=on_duplicate)
            report = Ingest(**options, pool=pool).run(batch, prune_roots=prune_roots)
        finally:
            if own is not None:
                own.close()
        self._after_ingest(report)
        return report

    def _after_ingest(self, report: IngestReport) -> None:
        """What follows every ingest, wherever it ran: new faces join the people grouped
        before (once people were grouped), and the listeners hear of the run."""
        if report.indexed and "faces" in self.config["signals"] and self._people().clustered:
            self._edit_people(lambda people: people.cluster(count=False))
        for listener in self.engine.ingest_listeners:
            listener(self.name, report)

    def ingest_options(
        self, *, progress: ProgressCallback | None = None, on_duplicate: OnDuplicate = "allow"
    ) -> dict[str, Any]:
        """What an ingest run into this collection is given, wherever it runs (here, or with
        its decoding and embedding on Ray workers)."""
        return {
            "store": self.store,
            "signals": self.signals,
            "settings": self.settings,
            "model_id": self.config["model_id"],
            "progress": progress,
            "on_duplicate": on_duplicate,
            "duplicate_check": (
                self._duplicate_of if "duplicate" in self.config["signals"] else None
            ),
            "on_unsafe": self.config.get("on_unsafe", "allow"),
            "thumbnails": self.thumbnails,
        }

    def signal_recipe(
        self,
    ) -> tuple[list[str], Settings, str, dict[str, int], Precision, SemanticInput]:
        """What another process needs to build this collection's signals (Ray workers):
        their names, the settings, the model, the vector sizes, the model's precision and
        where its input comes from."""
        config = self.config
        return (
            list(config["signals"]),
            self.settings,
            config.get("model") or "",
            dict(config.get("dims", {})),
            self.precision,
            self.semantic_input,
        )

    def _duplicate_of(
        self, record_id: str, payload: dict[str, Any], vectors: dict[str, Any]
    ) -> tuple[str, float] | None:
        """The record a new image copies, if any (for ``on_duplicate``)."""
        query = record_copy_query(payload, vectors)
        if query is None:
            return None
        exclude = Not(HasIds((record_id,)))
        hits = find_copies(
            self.store,
            query,
            limit=1,
            filter=exclude,
            threshold=self.copy_threshold,
            second_round=self.settings.copy_second_round,
        )
        return (hits[0].id, hits[0].score) if hits else None

    def duplicates(
        self,
        *,
        threshold: float | None = None,
        keep: str = "original",
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Cluster]:
        """Clusters of near-duplicates across the collection, with the record to keep in each
        (``original``, the default: the largest that is neither a framed copy nor a crop of another;
        ``largest``, ``least-compressed``, ``oldest`` or ``FIELD:min|max``)."""
        self.signal("duplicate")
        clusters = find_clusters(
            self.store,
            threshold=self.copy_threshold if threshold is None else threshold,
            keep=keep,
            progress=progress,
        )
        return without_dismissed(clusters, self.not_duplicates())

    def not_duplicates(self) -> set[tuple[str, str]]:
        """Pairs marked as not duplicates (:meth:`mark_not_duplicates`)."""
        return read_pairs(self.store.config().get(DISMISSED_KEY))

    def mark_not_duplicates(self, a: str, b: str) -> set[tuple[str, str]]:
        """Remember that ``a`` and ``b`` are not duplicates: later groupings leave the pair
        out. Answers every pair marked so far."""
        for _ in range(_PEOPLE_TRIES):  # on the list as it is now, if another process wrote
            config = self.store.config()
            pairs = read_pairs(config.get(DISMISSED_KEY)) | {pair(a, b)}
            changes = {DISMISSED_KEY: sorted(list(p) for p in pairs)}
            try:
                self.store.update_config(changes, expect=revision(config))
            except ConfigChanged:
                continue
            return pairs
        raise Conflict(f"the configuration of collection {self.name!r} kept changing: try again")

    @property
    def thumbnails(self) -> bool:
        """Whether records keep a JPEG thumbnail (chosen when the collection is made, turned on
        later by :meth:`make_thumbnails`)."""
        return bool(self.config.get("thumbnails", False))

    @property
    def copy_threshold(self) -> float:
        configured = self.settings.copy_threshold
        return COPY_THRESHOLD if configured is None else configured

    def moderate(self, image: QueryImage) -> dict[str, Any]:
        """Check one image as indexing into this collection would (same decode size), without
        indexing it: ``{"safe", "nsfw", "threshold", "labels"}``."""
        if "moderation" not in self.config["signals"]:
            return self.engine.moderate(image)
        signal = self.signal("moderation")
        assert isinstance(signal, ModerationSignal)
        return self.engine._moderate(
            image, signal, decode_plan(self.signals, self.settings).min_side
        )

    # records ----------------------------------------------------------------------------

    def get(self, record_id: str) -> dict[str, Any]:
        points = self.store.retrieve([record_id])
        if not points:
            raise NotFound(f"no record {record_id!r} in collection {self.name!r}")
        return _record(points[0])

    def thumbnail(self, record_id: str) -> bytes:
        """The record's JPEG thumbnail (collections made with ``thumbnails``)."""
        if not self.thumbnails:
            raise NotFound(
                f"collection {self.name!r} keeps no thumbnails (made without them; "
                "make_thumbnails turns them on)"
            )
        points = self.store.retrieve([record_id])
        if not points:
            raise NotFound(f"no record {record_id!r} in collection {self.name!r}")
        encoded = points[0].payload.get(THUMBNAIL)
        if not isinstance(encoded, str):
            raise NotFound(f"record {record_id!r} has no thumbnail; re-index its image")
        return base64.b64decode(encoded)

    def make_thumbnails(
        self, *, progress: ProgressCallback | None = None, open_file: OpenFile | None = None
    ) -> ThumbnailReport:
        """Turn thumbnails on (when the collection was made without them) and make the missing
        ones from the sources that are still there (:mod:`lookalike.thumbnails`): every record
        gets its outcome, records that have one are left alone, so running it again finishes
        what a run could not. ``open_file``: which recorded files may be read (default: any;
        a server allows its ``allowed_roots``)."""
        if not self.thumbnails:
            self.config = self.store.update_config({"thumbnails": True})
        plan = decode_plan(self.signals, self.settings, thumbnails=True)
        return backfill_thumbnails(
            self.store, plan, self.settings, open_file=open_file or local_file, progress=progress
        )

    def update(
        self,
        record_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        group: str | None = None,
        merge: bool = False,
    ) -> dict[str, Any]:
        """Replace (or with ``merge`` extend) a record's metadata, and/or set its group."""
        current = self.get(record_id)
        changes: dict[str, Any] = {}
        if metadata is not None:
            if not isinstance(metadata, Mapping):
                raise BadInput("metadata must be a JSON object")
            check_metadata(metadata)
            changes["metadata"] = {**current["metadata"], **metadata} if merge else dict(metadata)
        if group is not None:
            changes["group"] = group
        if changes:
            self.store.set_payload([record_id], changes)
        return self.get(record_id)

    def delete(self, record_ids: Sequence[str]) -> dict[str, bool]:
        """Delete records; answers, per id, whether it existed."""
        found = {p.id for p in self.store.retrieve(list(record_ids))}
        self.store.delete([i for i in record_ids if i in found])
        return {i: i in found for i in record_ids}

    def count(self, filter: Mapping[str, Any] | str | None = None) -> int:
        return self.store.count(parse_filter(filter))

    def field_summary(self) -> dict[str, Any]:
        """The fields its records hold and their values (:func:`fieldsummary.summarize`),
        for filter controls; reads every payload once."""
        return summarize(p.payload for p in scroll_all(self.store, page=512))

    def list_records(
        self,
        *,
        filter: Mapping[str, Any] | str | None = None,
        limit: int = 100,
        offset: str | None = None,
        sort: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of records and the cursor of the next (None after the last).

        ``sort``: ``-indexed_at`` (newest first), ``indexed_at``, ``-taken_at`` (latest
        capture time first) or ``taken_at``; records without the field (no EXIF time) come
        last. None: the store's own order (fastest). A cursor goes with the sort it came from.
        """
        if sort is None:
            points, next_offset = self.store.scroll(
                filter=parse_filter(filter), limit=limit, offset=offset
            )
        else:
            points, next_offset = ordered_page(
                self.store,
                parse_sort(sort),
                filter=parse_filter(filter),
                limit=limit,
                cursor=offset,
            )
        return [_record(p) for p in points], next_offset

    def random_records(
        self, count: int, *, filter: Mapping[str, Any] | str | None = None
    ) -> list[dict[str, Any]]:
        """Up to ``count`` records drawn at random among those matching ``filter``."""
        return [_record(p) for p in self.store.sample(count, filter=parse_filter(filter))]

    def info(self) -> dict[str, Any]:
        status = self.store.status()
        return {
            **self.config,
            "name": self.name,  # the configuration keeps the name it was created with
            "precision": self.precision if self.config.get("model") else None,
            "aliases": sorted(a for a, t in self.engine.aliases().items() if t == self.name),
            "thumbnails": self.thumbnails,
            "count": status.points,
            "hnsw_indexed": status.indexed,
            "copy_threshold": self.copy_threshold,
        }

    # search -----------------------------------------------------------------------------

    def search(
        self,
        *,
        image: QueryImage | None = None,
        text: str | None = None,
        id: str | None = None,
        vector: Sequence[float] | None = None,
        positive: Sequence[Example] = (),
        negative: Sequence[Example] = (),
        region: tuple[float, float, float, float] | None = None,
        filter: Mapping[str, Any] | str | None = None,
        top_k: int = 10,
        threshold: float | None = None,
        signal: str | None = None,
        group: bool = False,
        group_score: str = "max",
        group_top: int = 3,
        face: int | None = None,
        box: tuple[float, float, float, float] | None = None,
        person: int | str | None = None,
        scores: Sequence[str] = (),
    ) -> list[SearchResult]:
        """One query's results, best first; scores on the shared [0, 1] scale.

        An image query computes what the signal searched needs and the other signals' scores
        that cost little (the semantic embedding; the duplicate hash where the query decoded
        the copy signal's image anyway); ``scores`` names signals to score by whatever it costs
        (``faces``: a face detector run on the query image; ``duplicate`` in a semantic search).

        Face search (``signal="faces"``): by the largest face of the query image or record, or
        the ``face``-th (largest first), or the one ``box`` covers; or every image of a
        ``person`` (id or name)."""
        lane = self.engine.lane
        if image is not None and lane is not None and not lane.inside():
            asked = dict(locals())  # the arguments as given: nothing else is bound yet
            del asked["self"], asked["lane"]
            return lane.run(self.search, **asked)  # decoded and embedded apart
        people = self._people() if person is not None else None
        pos, neg, weights = examples(positive, negative)
        query = Query(
            image=image,
            text=text,
            id=id,
            vector=vector,
            positive=pos,
            negative=neg,
            weights=weights,
            region=region,
            filter=filter,
            top_k=top_k,
            threshold=threshold,
            signal=signal,
            group=group,
            group_score=group_score,
            group_top=group_top,
            face=face,
            box=box,
            person=None if people is None or person is None else people.resolve(person),
            scores=tuple(scores),
        )
        results = self._searcher.search(query)
        if "faces" in self.config["signals"]:
            names = self._people().names
            for r in results:
                if r.match is not None and r.match.get("person") in names:
                    r.match["name"] = names[r.match["person"]]
        return results

    def evaluate(
        self,
        queries: Sequence[QuerySpec] | str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> EvalReport:
        """Measure this collection's search quality: with ``queries`` (:class:`QuerySpec`
        objects, or a queries file: JSON lines of ``id`` or ``image`` with ``expected`` ids or
        a ``group``), else by a protocol over the groups of its records (``leave-one-out`` by
        default). ``options``: those of :func:`lookalike.evaluation.evaluate_collection`."""
        from lookalike.evaluation import evaluate_collection, load_queries

        if isinstance(queries, str | os.PathLike):
            queries = load_queries(queries)
        return evaluate_collection(self, queries=queries, **options)

    @cached_property
    def _searcher(self) -> Searcher:
        self._check_model()
        return Searcher(
            self.store,
            self.signals,
            self.settings,
            self.signal,
            person_vector=lambda pid: self._people().centroid(pid),
        )

    # people -----------------------------------------------------------------------------

    def _people(self) -> People:
        """The people table as the store holds it now: another process sharing a server store
        may have changed it (on the embedded store this reads this process's own copy)."""
        self.config = self.store.config()
        threshold = self.signal("faces").calibration.inverse(self.settings.face_cluster_threshold)
        return People(self.store, self.config, threshold)

    def _edit_people(self, edit: Callable[[People], _T]) -> _T:
        """Run an edit of the people on the table as it is now; if another process changed the
        configuration before the edit was saved (nothing of it is written then), run it again
        on the new table."""
        with self._people_lock:
            for _ in range(_PEOPLE_TRIES):
                try:
                    return edit(self._people())
                except ConfigChanged:
                    continue
        raise Conflict(
            f"the people of collection {self.name!r} kept changing during this edit (other "
            "processes are editing them): try again",
            detail={"collection": self.name},
        )

    def people(self) -> list[Person]:
        """The people grouped so far, most faces first (see :meth:`cluster_people`)."""
        return self._people().summary()

    def cluster_people(self, *, full: bool = False) -> ClusterReport:
        """Group faces into people: the faces not grouped yet join the people there are or
        start new ones; ``full`` regroups every face (keeping the ids and names of the people
        most of each group's faces had). Once run, indexing new images runs it too."""
        return self._edit_people(lambda people: people.cluster(full=full))

    def name_person(self, person: int | str, name: str | None) -> int:
        """Name a person (by id or current name); ``None`` removes the name."""

        def edit(people: People) -> int:
            pid = people.resolve(person)
            people.name(pid, name)
            return pid

        return self._edit_people(edit)

    def merge_people(self, persons: Sequence[int | str], *, into: int | str | None = None) -> int:
        """Make several people one person; answers its id (``into``, else the first given)."""

        def edit(people: People) -> int:
            pids = [people.resolve(p) for p in persons]
            return people.merge(pids, None if into is None else people.resolve(into))

        return self._edit_people(edit)

    def split_person(self, person: int | str, faces: Sequence[str | tuple[str, int]]) -> int:
        """Move the person's faces in these records (or ``(record id, face index)`` pairs) to a
        new person; answers the new id."""
        return self._edit_people(lambda people: people.split(people.resolve(person), faces))

    def close(self) -> None:
        store = self.__dict__.pop("store", None)  # once, whoever closes first
        if store is not None:
            store.close()


def _model_id(signals: Sequence[Signal]) -> str | None:
    for s in signals:
        if s.name == "semantic":
            return s.model_id
    return None


def _record(point: StoredPoint) -> dict[str, Any]:
    p = point.payload
    return {
        "id": point.id,
        SOURCE: p.get(SOURCE),
        GROUP: p.get(GROUP),
        METADATA: p.get(METADATA) or {},
        WIDTH: p.get(WIDTH),
        HEIGHT: p.get(HEIGHT),
        FORMAT: p.get(FORMAT),
        CONTENT_HASH: p.get(CONTENT_HASH),
        INDEXED_AT: p.get(INDEXED_AT),
        MODEL: p.get(MODEL),
        DUPLICATE_OF: p.get(DUPLICATE_OF),
        FACES: p.get(FACES),
        **{k: p[k] for k in SIGNAL_FIELDS if k in p},
    }
