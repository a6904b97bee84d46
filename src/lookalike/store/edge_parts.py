"""The shards of an embedded collection: their folders, and one answer made of theirs.

A collection fills one shard at a time (``shard``, then ``shard-1``, ``shard-2``...), each up to
the collection's ``shard_points``: the full one's HNSW graph is built while the next one fills,
and no build, swap or close ever handles more than one shard's points (see
:class:`lookalike.store.edge.EdgeCollection`). A record lives in one shard; a write of a record
that an older shard holds puts the new version in the filling shard first and then deletes the
old one, so a crash between the two leaves two versions, never none, and every read keeps the
newer (the shard of the higher number).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "merge_ordered",
    "merge_records",
    "merge_scroll",
    "part_name",
    "part_numbers",
    "recover_parts",
    "top_points",
]

FIRST = "shard"
_NAME = re.compile(r"shard(?:-([1-9][0-9]*))?")

T = TypeVar("T")


def part_name(number: int) -> str:
    """The folder of the collection's ``number``-th shard (the first keeps the old name)."""
    return FIRST if number == 0 else f"{FIRST}-{number}"


def part_numbers(folder: Path) -> list[int]:
    """The shards a collection folder holds, oldest first."""
    numbers = []
    for path in folder.iterdir():
        found = _NAME.fullmatch(path.name)
        if found is not None and path.is_dir():
            numbers.append(int(found.group(1) or 0))
    return sorted(numbers)


def recover_parts(folder: Path) -> None:
    """Undo what a process killed during an index build or a shard's creation left: the
    original shard is the truth (a copy is swapped in only once it is complete), so a half-done
    copy or a half-made shard is dropped."""
    names = {p.name for p in folder.iterdir()}
    for name in sorted(names):
        base, dot, state = name.partition(".")
        if not dot or _NAME.fullmatch(base) is None:
            continue
        if state == "retired" and base not in names:
            (folder / name).rename(folder / base)  # killed between the swap's two renames
            names.add(base)
            continue
        if state in ("retired", "building", "partial"):
            shutil.rmtree(folder / name, ignore_errors=True)


def top_points(lists: Sequence[Sequence[Any]], limit: int) -> list[tuple[int, Any]]:
    """The best ``limit`` of the shards' scored points (``.id``, ``.score``), best first, each
    with the index of its shard's list; a point in two shards (a crash between a rewrite's two
    steps) counts once, as its newer version."""
    newest = _newest(lists, lambda p: str(p.id))
    ranked = sorted(
        (
            (part, point)
            for part, points in enumerate(lists)
            for point in points
            if newest[str(point.id)] == part
        ),
        key=lambda pair: -float(pair[1].score),
    )
    return ranked[:limit]


def merge_records(lists: Sequence[list[T]], key: Callable[[T], str]) -> list[T]:
    """The shards' records, each once: the newer version of one held twice."""
    if len(lists) == 1:
        return lists[0]
    newest = _newest(lists, key)
    return [r for part, records in enumerate(lists) for r in records if newest[key(r)] == part]


def merge_scroll(
    pages: Sequence[tuple[list[Any], Any]], limit: int
) -> tuple[list[Any], str | None]:
    """One page in point-id order from each shard's page starting at the same cursor: the
    first ``limit`` of them, and where the next page starts (the first point not given,
    whichever shard holds it)."""
    records = merge_records([page for page, _ in pages], lambda r: str(r.id))
    records.sort(key=lambda r: str(r.id))
    after = [str(n) for _, n in pages if n is not None]
    if len(records) > limit:
        after.append(str(records[limit].id))
    return records[:limit], min(after) if after else None


def merge_ordered(
    lists: Sequence[list[tuple[Any, T]]], limit: int, *, descending: bool
) -> list[tuple[Any, T]]:
    """The first ``limit`` of the shards' lists, each sorted by its value, by value."""
    if len(lists) == 1:
        return lists[0]
    merged = [pair for pairs in lists for pair in pairs]
    merged.sort(key=lambda pair: pair[0], reverse=descending)
    return merged[:limit]


def _newest(lists: Sequence[Sequence[T]], key: Callable[[T], str]) -> dict[str, int]:
    newest: dict[str, int] = {}
    for part, items in enumerate(lists):
        for item in items:
            newest[key(item)] = part
    return newest
