"""Grouping searches a few records ahead, and still hands their results over in order."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from lookalike.signals.duplicate import clusters
from lookalike.store.base import StoredPoint


def _points(n: int) -> list[StoredPoint]:
    return [StoredPoint(id=str(i), payload={}, vectors={}) for i in range(n)]


def test_results_come_in_the_points_order_whatever_each_search_takes() -> None:
    running: set[str] = set()
    most = 0
    lock = threading.Lock()
    side_by_side = threading.Barrier(2, timeout=10)  # the first two must run at once

    def work(point: StoredPoint) -> Any:
        nonlocal most
        with lock:
            running.add(point.id)
            most = max(most, len(running))
        if point.id in ("0", "1"):
            side_by_side.wait()
        time.sleep(0.02 if int(point.id) % 3 == 0 else 0.001)  # early ones finish last
        with lock:
            running.discard(point.id)
        return [point.id]

    got = list(clusters._ahead(work, iter(_points(12))))
    assert [p.id for p, _ in got] == [str(i) for i in range(12)]
    assert all(hits == [p.id] for p, hits in got)
    assert most == clusters.AHEAD  # never more at once


def test_a_failed_search_stops_the_rest_after_the_ones_before_it() -> None:
    started: list[str] = []

    def work(point: StoredPoint) -> Any:
        started.append(point.id)
        if point.id == "2":
            raise RuntimeError("store gone")
        return []

    seen = []
    with pytest.raises(RuntimeError, match="store gone"):
        for point, _ in clusters._ahead(work, iter(_points(50))):
            seen.append(point.id)
    assert seen == ["0", "1"]
    assert len(started) <= 2 + clusters.AHEAD + 1  # the rest never searched
