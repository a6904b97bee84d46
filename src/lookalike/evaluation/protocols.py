"""Which images are queries and which are the catalog, and what counts as a right answer.

- ``first``: the first image of each group (in listing order: by file name in a folder, line
  order in a JSONL catalog) is the query, the group's other images are in the catalog; no query
  image is ever among the records searched (the visual-search talk's protocol).
- ``leave-one-out``: every image of a group is a query once, searched among all the others.
- ``split``: a share of each group's images, drawn with a seed, are queries; the rest is the
  catalog.

Groups of one image are never queried (nothing is there to find): they stay in the catalog as
distractors, as do images without a group."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lookalike.errors import BadInput

__all__ = ["PROTOCOLS", "Labelled", "Plan", "Protocol", "QuerySpec", "check_protocol", "plan"]

Protocol = Literal["first", "leave-one-out", "split"]
PROTOCOLS: tuple[Protocol, ...] = ("first", "leave-one-out", "split")


@dataclass(frozen=True)
class Labelled:
    """One image of an evaluation set: its record id, where it is, and its group."""

    id: str
    group: str | None
    source: str | None = None


@dataclass(frozen=True)
class QuerySpec:
    """One query to run: a record by id, or an image by path or URL, and its right answers
    (records of ``group``, or the ``expected`` ids)."""

    label: str
    id: str | None = None
    image: str | None = None
    group: str | None = None
    expected: tuple[str, ...] = ()
    source: str | None = None
    catalog_size: int = 0
    """Right answers among the records searched when ranking records (group members)."""


@dataclass(frozen=True)
class Plan:
    queries: list[QuerySpec]
    excluded: tuple[str, ...]
    """Record ids kept out of every search (query images of ``first`` and ``split``)."""
    seed: int | None


def check_protocol(value: str) -> Protocol:
    if value not in PROTOCOLS:
        raise BadInput(f"protocol must be one of {', '.join(PROTOCOLS)}, not {value!r}")
    return value


def plan(
    items: Sequence[Labelled],
    protocol: str,
    *,
    seed: int | None = None,
    query_fraction: float = 0.2,
) -> Plan:
    """The queries of ``protocol`` over ``items`` (in their listing order). ``split`` draws
    with ``seed`` (a new one when None; the plan says which)."""
    protocol = check_protocol(protocol)
    groups: dict[str, list[Labelled]] = {}
    for item in items:
        if item.group is not None:
            groups.setdefault(item.group, []).append(item)
    groups = {g: members for g, members in groups.items() if len(members) >= 2}
    if not groups:
        raise BadInput(
            "no group has two images or more: an evaluation needs groups (one subfolder per "
            "product or class, or a group field) with a query and something to find"
        )
    used_seed: int | None = None
    if protocol == "first":
        chosen = {g: [members[0]] for g, members in groups.items()}
    elif protocol == "split":
        if not 0.0 < query_fraction < 1.0:
            raise BadInput(f"query_fraction must be between 0 and 1, not {query_fraction}")
        used_seed = random.SystemRandom().randrange(2**31) if seed is None else seed
        rng = random.Random(used_seed)
        chosen = {}
        for g, members in sorted(groups.items()):
            count = min(len(members) - 1, max(1, round(len(members) * query_fraction)))
            picked = set(rng.sample(range(len(members)), count))
            chosen[g] = [m for n, m in enumerate(members) if n in picked]
    else:
        chosen = dict(groups)
    excluded = (
        () if protocol == "leave-one-out" else tuple(q.id for qs in chosen.values() for q in qs)
    )
    queries = []
    for g, qs in chosen.items():
        left = len(groups[g]) - (1 if protocol == "leave-one-out" else len(qs))
        for q in qs:
            queries.append(
                QuerySpec(label=q.id, id=q.id, group=g, source=q.source, catalog_size=left)
            )
    return Plan(queries=queries, excluded=excluded, seed=used_seed)
