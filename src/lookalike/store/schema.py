"""The collection schema version, and the forward migrations that bring a collection up to it.

A collection's configuration carries ``schema_version``. Opening a collection runs the steps
from its version up to :data:`SCHEMA_VERSION`, one at a time, each writing its result through
the store seam, so an interrupted upgrade resumes from the last step done. A collection made
by a newer lookalike is refused, never read half-understood.

Versions:

1. The layout before versions: the configuration in ``collection.json`` beside the embedded
   store's shard (read by the Edge backend only; ``schema_version`` absent).
2. The configuration, people table and version kept in the store itself (``base.META_ID``),
   the same on every backend; ``on_unsafe`` and ``thumbnails`` always present.
3. ``semantic_input`` recorded in a collection with the semantic signal: ``direct`` for those
   made since, ``shared`` for those made before (``SemanticSignal``). A lookalike reading
   version 2 at most would add records to a ``direct`` collection the other way, so it refuses
   it instead.

A step that changes the payload layout (``lookalike.payload``) rewrites the points through the
collection it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lookalike.errors import Conflict
from lookalike.store.base import CollectionStore

SCHEMA_VERSION = 3
VERSION_KEY = "schema_version"

Migration = Callable[[dict[str, Any], CollectionStore], dict[str, Any]]
"""(configuration at version n, the collection) -> the configuration at version n + 1."""


def _into_the_store(config: dict[str, Any], store: CollectionStore) -> dict[str, Any]:
    """1 -> 2: the configuration moves from the backend's folder into the store (writing it is
    the move); settings that older versions left implicit become explicit."""
    return {"on_unsafe": "allow", "thumbnails": False, **config}


def _semantic_input_recorded(config: dict[str, Any], store: CollectionStore) -> dict[str, Any]:
    """2 -> 3: a collection made before made its semantic input from the shared image."""
    if "semantic" in config.get("signals", ()):
        return {"semantic_input": "shared", **config}
    return config


STEPS: dict[int, Migration] = {1: _into_the_store, 2: _semantic_input_recorded}
"""Step from version n to n + 1, for every n below :data:`SCHEMA_VERSION`."""


def version_of(config: dict[str, Any]) -> int:
    return int(config.get(VERSION_KEY, 1))


def check_readable(name: str, config: dict[str, Any]) -> int:
    """The collection's version; refuses one made by a newer schema."""
    version = version_of(config)
    if version > SCHEMA_VERSION:
        raise Conflict(
            f"collection {name!r} has schema version {version}, made by a newer lookalike; "
            f"this one reads schema versions up to {SCHEMA_VERSION}: upgrade lookalike",
            detail={"collection": name, VERSION_KEY: version, "supported": SCHEMA_VERSION},
        )
    return version


def ensure_version(name: str, store: CollectionStore) -> dict[str, Any]:
    """Bring an open collection to :data:`SCHEMA_VERSION`, one step at a time; answers its
    configuration."""
    config = store.config()
    version = check_readable(name, config)
    while version < SCHEMA_VERSION:
        upgraded = STEPS[version](dict(config), store)
        version += 1
        config = store.update_config({**upgraded, VERSION_KEY: version})
    return config
