"""One interface for a collection in process and through a server.

:class:`CollectionAPI` is what :class:`lookalike.Collection` and the SDK's
:class:`lookalike.client.RemoteCollection` both answer (:class:`EngineAPI` the same for
``Engine`` and ``Client``), so a function typed with it takes either; mypy checks both against
it (:func:`_both_satisfy`). :func:`check_existing` is the rule ``create_collection(...,
exist_ok=True)`` follows on both sides. Light on purpose: the SDK imports it.

:class:`LocalCollection` and :class:`LocalEngine` add what only an engine in this process has
(its store, its settings, switching a name): the workflows built on the engine (evaluation,
reindex) are typed with them, so that they need not import the engine that calls them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from lookalike.errors import Conflict, ModelMismatch
from lookalike.sources import Item, ItemError
from lookalike.types import (
    Cluster,
    ClusterReport,
    Example,
    IngestReport,
    OnDuplicate,
    OnUnsafe,
    Person,
    Precision,
    ProgressCallback,
    QueryImage,
    SearchResult,
    ThumbnailReport,
)

if TYPE_CHECKING:
    from lookalike.config import Settings
    from lookalike.store.base import CollectionStore, Store

__all__ = ["CollectionAPI", "EngineAPI", "LocalCollection", "LocalEngine", "check_existing"]

Box = tuple[float, float, float, float]


class CollectionAPI(Protocol):
    """A collection's methods, as docs/python-api.md describes them."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> dict[str, Any]: ...

    @property
    def copy_threshold(self) -> float: ...

    def index(
        self,
        inputs: Sequence[str | os.PathLike[str]],
        *,
        metadata_file: str | os.PathLike[str] | None = None,
        group_by_folder: bool = False,
        prune: bool = False,
        on_duplicate: OnDuplicate = "allow",
        progress: ProgressCallback | None = None,
    ) -> IngestReport: ...

    def add(
        self,
        items: Iterable[Item | ItemError | Mapping[str, Any]],
        *,
        progress: ProgressCallback | None = None,
        on_duplicate: OnDuplicate = "allow",
    ) -> IngestReport: ...

    def search(
        self,
        *,
        image: QueryImage | None = None,
        text: str | None = None,
        id: str | None = None,
        vector: Sequence[float] | None = None,
        positive: Sequence[Example] = (),
        negative: Sequence[Example] = (),
        region: Box | None = None,
        filter: Mapping[str, Any] | str | None = None,
        top_k: int = 10,
        threshold: float | None = None,
        signal: str | None = None,
        group: bool = False,
        group_score: str = "max",
        group_top: int = 3,
        face: int | None = None,
        box: Box | None = None,
        person: int | str | None = None,
        scores: Sequence[str] = (),
    ) -> list[SearchResult]: ...

    def duplicates(
        self,
        *,
        threshold: float | None = None,
        keep: str = "original",
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Cluster]: ...

    def moderate(self, image: QueryImage) -> dict[str, Any]: ...

    def get(self, record_id: str) -> dict[str, Any]: ...

    def update(
        self,
        record_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        group: str | None = None,
        merge: bool = False,
    ) -> dict[str, Any]: ...

    def delete(self, record_ids: Sequence[str]) -> dict[str, bool]: ...

    def count(self, filter: Mapping[str, Any] | str | None = None) -> int: ...

    def list_records(
        self,
        *,
        filter: Mapping[str, Any] | str | None = None,
        limit: int = 100,
        offset: str | None = None,
        sort: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]: ...

    def info(self) -> dict[str, Any]: ...

    def thumbnail(self, record_id: str) -> bytes: ...

    def make_thumbnails(self, *, progress: ProgressCallback | None = None) -> ThumbnailReport: ...

    def people(self) -> list[Person]: ...

    def cluster_people(self, *, full: bool = False) -> ClusterReport: ...

    def name_person(self, person: int | str, name: str | None) -> int: ...

    def merge_people(
        self, persons: Sequence[int | str], *, into: int | str | None = None
    ) -> int: ...

    def split_person(self, person: int | str, faces: Sequence[str | tuple[str, int]]) -> int: ...


C_co = TypeVar("C_co", bound=CollectionAPI, covariant=True)


class EngineAPI(Protocol[C_co]):
    """The engine's methods over collections, in process or through a server; ``C_co``: the
    collections it answers (``EngineAPI[CollectionAPI]`` takes either side)."""

    def list_collections(self) -> list[str]: ...

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
    ) -> C_co: ...

    def collection(self, name: str) -> C_co: ...

    def drop_collection(self, name: str) -> None: ...

    def aliases(self) -> dict[str, str]: ...

    def set_alias(self, alias: str, target: str | None) -> dict[str, str]: ...

    def moderate(self, image: QueryImage) -> dict[str, Any]: ...


class LocalCollection(CollectionAPI, Protocol):
    """A collection in this process (:class:`lookalike.Collection`)."""

    config: dict[str, Any]
    settings: Settings

    @property
    def store(self) -> CollectionStore: ...


class LocalEngine(EngineAPI[LocalCollection], Protocol):
    """An engine in this process (:class:`lookalike.Engine`)."""

    store: Store

    def switch(self, name: str, target: str, *, keep_as: str) -> None: ...


def check_existing(
    name: str,
    config: Mapping[str, Any],
    *,
    signals: Sequence[str] | None,
    model: str | None,
    on_unsafe: str | None,
    thumbnails: bool | None,
    precision: str | None = None,
) -> None:
    """``Conflict`` unless the existing collection ``name`` (its ``config``) has what
    ``create_collection`` asks for; None asks for nothing in particular. Another precision
    is a ``ModelMismatch``: int8 vectors never join fp32 ones, nor the reverse."""
    have = list(config.get("signals") or [])
    if signals is not None and set(signals) != set(have):
        raise Conflict(
            f"collection {name!r} has signals {','.join(have)}, not {','.join(signals)}; "
            "create another collection for them"
        )
    if (model is not None or precision not in (None, "fp32")) and not config.get("model"):
        asked = f"model {model!r}" if model is not None else f"precision {precision}"
        raise Conflict(
            f"collection {name!r} has no model (signals {','.join(have)}): {asked} is not "
            "its; create another collection with the semantic signal",
            detail={"collection": name, "signals": have},
        )
    if model is not None and model != config.get("model"):
        raise Conflict(
            f"collection {name!r} uses model {config.get('model')!r}, not {model!r}; "
            "create another collection to compare models"
        )
    have_precision = config.get("precision") or "fp32"
    if precision is not None and config.get("model") and precision != have_precision:
        raise ModelMismatch(
            f"collection {name!r} runs its model in {have_precision}, not {precision}: its "
            f"vectors and {precision} ones cannot be compared; create another collection for "
            f"{precision}",
            detail={"collection": name, "precision": have_precision, "asked": precision},
        )
    have_unsafe = config.get("on_unsafe", "allow")
    if on_unsafe is not None and on_unsafe != have_unsafe:
        raise Conflict(
            f"collection {name!r} was created with on_unsafe {have_unsafe!r}, not {on_unsafe!r}"
        )
    if thumbnails and not config.get("thumbnails", False):
        raise Conflict(
            f"collection {name!r} was made without thumbnails; create another collection to "
            "keep them"
        )
