"""Collection aliases: a second name for a collection, switched from one collection to another
in one atomic step (what ``lookalike reindex`` does when a new version is ready).

The rules are the seam's and the same on every backend (:func:`check_alias`): an alias names a
collection, never another alias, and never a name a collection has; a collection's name is
never an alias's. A server store keeps aliases as Qdrant's own; the embedded store keeps them in
one JSON file beside the collection folders (:class:`AliasFile`), rewritten whole by an atomic
rename under a file lock, so every process sees the old mapping or the new one, never half.

Every name a user gives is resolved once, alias first, by the engine (:meth:`Engine.collection`
asks :meth:`~lookalike.store.base.Store.resolve`), so no route or command resolves names itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lookalike.errors import BadInput, Conflict, NameTaken, NotFound
from lookalike.store.base import validate_name

__all__ = ["ALIAS_FILE", "AliasFile", "check_alias", "check_drop", "check_new_name"]

ALIAS_FILE = "aliases.json"


def check_alias(
    alias: str, target: str | None, *, collections: list[str], aliases: dict[str, str]
) -> None:
    """Refuse an alias the rules forbid: ``target`` ``None`` removes ``alias``."""
    validate_name(alias)
    if target is None:
        if alias not in aliases:
            raise NotFound(f"no alias named {alias!r}", detail={"alias": alias})
        return
    validate_name(target)
    if alias in collections:
        raise NameTaken(
            f"{alias!r} is a collection's name; an alias needs a name of its own",
            detail={"alias": alias, "collection": alias},
        )
    if target in aliases:
        raise BadInput(
            f"{target!r} is itself an alias (of {aliases[target]!r}): point {alias!r} at a "
            "collection",
            detail={"alias": alias, "target": target},
        )
    if target not in collections:
        raise NotFound(
            f"no collection {target!r} for alias {alias!r} to point at",
            detail={"alias": alias, "target": target},
        )


class AliasFile:
    """The embedded store's aliases: ``{"aliases": {alias: collection}, "moves": {...}}``.

    ``moves`` are collection folders waiting to be renamed (``old name -> new name``): when a
    plain collection becomes an alias of its new version, the alias is written first (the switch)
    and the old folder is renamed once no process holds it open."""

    def __init__(self, root: Path) -> None:
        self.path = root / ALIAS_FILE
        self._cache: tuple[tuple[int, int], dict[str, Any]] | None = None

    def read(self) -> dict[str, Any]:
        """The record; a stat per call, the file read again only once it was replaced."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {"aliases": {}, "moves": {}}
        stamp = (st.st_ino, st.st_mtime_ns)
        if self._cache is not None and self._cache[0] == stamp:
            return self._cache[1]
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:  # replaced between stat and read
            return self.read()
        record = {"aliases": dict(data.get("aliases", {})), "moves": dict(data.get("moves", {}))}
        self._cache = (stamp, record)
        return record

    def aliases(self) -> dict[str, str]:
        return dict(self.read()["aliases"])

    def moves(self) -> dict[str, str]:
        return dict(self.read()["moves"])

    @contextlib.contextmanager
    def editing(self) -> Iterator[dict[str, Any]]:
        """The record, locked against other writers; written back (atomically) on exit."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(ALIAS_FILE + ".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._cache = None
            record = self.read()
            record = {"aliases": dict(record["aliases"]), "moves": dict(record["moves"])}
            yield record
            partial = self.path.with_name(ALIAS_FILE + ".partial")
            with open(partial, "w", encoding="utf-8") as fh:
                json.dump(record, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(partial, self.path)
            self._cache = None


def check_drop(name: str, aliases: dict[str, str]) -> None:
    """Refuse to drop through an alias, or a collection an alias names (it would dangle)."""
    if name in aliases:
        raise Conflict(
            f"{name!r} is an alias of {aliases[name]!r}: remove the alias (lookalike "
            f"collections alias {name} --remove), or drop {aliases[name]!r} itself",
            detail={"alias": name, "target": aliases[name]},
        )
    naming = sorted(a for a, t in aliases.items() if t == name)
    if naming:
        raise Conflict(
            f"collection {name!r} is named by alias {', '.join(map(repr, naming))}: switch or "
            "remove the alias first",
            detail={"collection": name, "aliases": naming},
        )


def check_new_name(name: str, aliases: dict[str, str]) -> None:
    """A new collection may not take an alias's name."""
    if name in aliases:
        raise NameTaken(
            f"{name!r} is an alias (of {aliases[name]!r}); give the collection another name",
            detail={"collection": name, "alias": name},
        )
