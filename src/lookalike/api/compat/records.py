"""A batch of the compatibility routes' records added the way those services do: the
collection is created by its first insert, and each record gets its own error or none."""

from __future__ import annotations

from collections.abc import Sequence

from lookalike.api.state import ServerState
from lookalike.errors import LookalikeError, error_class
from lookalike.sources import Item, ItemError


def add_items(
    state: ServerState, name: str, entries: Sequence[Item | ItemError]
) -> list[LookalikeError | None]:
    """Add ``entries`` to collection ``name`` in one batch: for each, in order, its error or
    None (a batch never fails whole). The collection is created by the first batch that holds
    an image to index."""
    if not any(isinstance(e, Item) for e in entries):
        return [e.error if isinstance(e, ItemError) else None for e in entries]
    report = state.collection_or_create(name).add(entries)
    failed = {o.index: o for o in report.outcomes if o.status == "failed"}
    errors: list[LookalikeError | None] = []
    for index in range(len(entries)):
        outcome = failed.get(index)
        if outcome is None:
            errors.append(None)
        else:
            errors.append(error_class(outcome.code)(outcome.message or str(outcome.code)))
    return errors
