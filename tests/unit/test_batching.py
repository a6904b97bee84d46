"""Queries that arrive together share model calls; a lone query runs at once, alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from lookalike.batching import Batcher


def test_a_lone_item_runs_at_once_in_a_batch_of_its_own() -> None:
    seen: list[list[int]] = []
    batcher = Batcher(lambda items: seen.append(list(items)) or [i * 2 for i in items], 8)
    assert batcher(3) == 6 and batcher(4) == 8
    assert seen == [[3], [4]]


def test_items_arriving_during_a_call_share_the_next_one_and_get_their_own_result() -> None:
    sizes: list[int] = []
    first = threading.Event()

    def run(items: Sequence[int]) -> list[int]:
        sizes.append(len(items))
        if len(sizes) == 1:
            first.set()
            time.sleep(0.3)  # the others arrive meanwhile
        return [i * 10 for i in items]

    batcher = Batcher(run, max_batch=4)
    results: dict[int, int] = {}

    def call(i: int) -> None:
        results[i] = batcher(i)

    lead = threading.Thread(target=call, args=(0,))
    lead.start()
    assert first.wait(5)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, 7)]
    for t in others:
        t.start()
    for t in [lead, *others]:
        t.join(10)
    assert results == {i: i * 10 for i in range(7)}
    assert sizes[0] == 1 and sum(sizes) == 7 and max(sizes) <= 4 and len(sizes) <= 3
    assert batcher.calls == len(sizes) and batcher.items == 7


def test_a_failed_call_fails_every_item_of_its_batch_and_the_next_ones_still_run() -> None:
    def run(items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise ValueError("unlucky")
        return list(items)

    batcher = Batcher(run, max_batch=8)
    with pytest.raises(ValueError, match="unlucky"):
        batcher(13)
    assert batcher(1) == 1
