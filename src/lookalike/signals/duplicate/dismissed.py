"""Pairs the user said are not duplicates (two posters with the same layout, say): kept in the
collection's configuration and left out of later groupings, so they are not shown again."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lookalike.errors import BadInput
from lookalike.types import Cluster

CONFIG_KEY = "not_duplicates"


def pair(a: str, b: str) -> tuple[str, str]:
    """The pair in one order, whichever way it was given."""
    if a == b:
        raise BadInput("a record is always a duplicate of itself: give two different ids")
    return (a, b) if a < b else (b, a)


def read_pairs(value: object) -> set[tuple[str, str]]:
    """The pairs as stored (a list of two-id lists); anything else reads as none."""
    out: set[tuple[str, str]] = set()
    if isinstance(value, list):
        for item in value:
            if (
                isinstance(item, Sequence)
                and len(item) == 2
                and all(isinstance(i, str) for i in item)
            ):
                out.add(pair(item[0], item[1]))
    return out


def without_dismissed(clusters: Iterable[Cluster], pairs: set[tuple[str, str]]) -> list[Cluster]:
    """The clusters with each copy dismissed as a duplicate of its cluster's kept record left
    out; a cluster left with only its kept record is dropped."""
    out: list[Cluster] = []
    for c in clusters:
        members = [m for m in c.members if m.id == c.keep or pair(c.keep, m.id) not in pairs]
        if len(members) > 1:
            out.append(Cluster(keep=c.keep, members=members))
    return out
