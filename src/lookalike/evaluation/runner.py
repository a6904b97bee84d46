"""Running an evaluation's queries against one collection, resumably.

Each query's result is appended to a state file (JSON lines) as soon as it is known; a rerun
with the same configuration reads them back and runs only the queries left, so an evaluation
of a large set survives an interruption."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lookalike.errors import BadInput, LookalikeError
from lookalike.evaluation.metrics import Hit, QueryResult
from lookalike.evaluation.protocols import QuerySpec

if TYPE_CHECKING:
    from lookalike.interface import LocalCollection
    from lookalike.types import SearchResult

__all__ = ["RANK_BY", "RankBy", "StateFile", "check_rank_by", "run_queries"]

RankBy = Literal["group", "record"]
RANK_BY: tuple[RankBy, ...] = ("group", "record")
"""``group``: one hit per group (product), right when it is the query's group; ``record``: every
record ranked, right when it is in the query's group or among its expected ids."""

CountCallback = Callable[[int, int], None]
"""Called with (done, total) as queries complete."""


def check_rank_by(value: str) -> RankBy:
    if value not in RANK_BY:
        raise BadInput(f"rank_by must be one of {', '.join(RANK_BY)}, not {value!r}")
    return value


class StateFile:
    """Per-query results of one run, one JSON line each after a header naming the run's
    configuration; results of another configuration are discarded, never mixed."""

    def __init__(self, path: Path, fingerprint: Mapping[str, Any]) -> None:
        self.path = path
        self.key = hashlib.sha256(
            json.dumps(fingerprint, sort_keys=True, default=str).encode()
        ).hexdigest()

    def load(self) -> dict[str, QueryResult]:
        """The results a previous run of the same configuration recorded."""
        if not self.path.is_file():
            return {}
        done: dict[str, QueryResult] = {}
        with open(self.path, encoding="utf-8") as fh:
            header = fh.readline()
            try:
                if json.loads(header).get("key") != self.key:
                    return {}
            except (ValueError, AttributeError):
                return {}
            for line in fh:
                try:
                    result = QueryResult.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by an interruption: that query runs again
                done[result.query] = result
        return done

    def start(self, kept: Sequence[QueryResult]) -> None:
        """Rewrite the file: the header and the results kept."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"state": "lookalike-eval", "key": self.key}) + "\n")
            for result in kept:
                fh.write(json.dumps(result.to_dict()) + "\n")

    def append(self, result: QueryResult) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(result.to_dict()) + "\n")
            fh.flush()


def run_queries(
    collection: LocalCollection,
    queries: Sequence[QuerySpec],
    *,
    top_k: int,
    rank_by: RankBy,
    excluded: Sequence[str] = (),
    search: Mapping[str, Any] | None = None,
    state: StateFile | None = None,
    progress: CountCallback | None = None,
) -> tuple[list[QueryResult], int]:
    """Each query's hits, in the order of ``queries``, and how many came from ``state``.

    A query that fails (an unreadable image, a record gone) is recorded with its error and
    counts as found nowhere; the others go on."""
    labels = [q.label for q in queries]
    if len(set(labels)) != len(labels):
        raise BadInput("two queries have the same label (record id or image): give each once")
    done = state.load() if state else {}
    done = {k: v for k, v in done.items() if k in set(labels)}
    if state is not None:
        state.start(list(done.values()))
    options: dict[str, Any] = {
        **dict(search or {}),
        "top_k": top_k,
        "group": rank_by == "group",
    }
    if excluded:
        options["filter"] = {"id": {"$nin": list(excluded)}}
    results: list[QueryResult] = []
    total = len(queries)
    if progress:
        progress(0, total)
    for n, spec in enumerate(queries, 1):
        result = done.get(spec.label)
        if result is None:
            result = _run_one(collection, spec, options, rank_by)
            if state is not None:
                state.append(result)
        results.append(result)
        if progress:
            progress(n, total)
    return results, len(done)


def _run_one(
    collection: LocalCollection, spec: QuerySpec, options: Mapping[str, Any], rank_by: RankBy
) -> QueryResult:
    relevant = len(spec.expected) if spec.expected else (1 if rank_by == "group" else 0)
    if not spec.expected and rank_by == "record":
        relevant = spec.catalog_size
    query: dict[str, Any] = {"id": spec.id} if spec.id is not None else {"image": spec.image}
    try:
        found = collection.search(**query, **options)
    except LookalikeError as exc:
        return QueryResult(
            spec.label, spec.group, relevant, (), source=spec.source, error=exc.message
        )
    hits = tuple(_hit(r, spec) for r in found)
    return QueryResult(spec.label, spec.group, relevant, hits, source=spec.source)


def _hit(result: SearchResult, spec: QuerySpec) -> Hit:
    right = result.id in spec.expected or (spec.group is not None and result.group == spec.group)
    return Hit(result.id, result.score, right, group=result.group, source=result.source)
