"""The lane heavy work runs on: a lower OS priority per thread, the caller's context, errors
passed back, and no second hop from a thread already on it."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from lookalike import priority
from lookalike.priority import BackgroundPool, Lane
from lookalike.stages import stage, timed

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice per thread: Linux")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@linux
def test_work_runs_at_the_lanes_nice_value_and_the_caller_keeps_its_own() -> None:
    lane = Lane(nice=_nice() + 5)
    try:
        before = _nice()
        assert lane.run(_nice) == before + 5
        assert _nice() == before
    finally:
        lane.close()


@linux
def test_heavy_only_pools_join_the_lane_once_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(priority, "_background", [])  # other tests' servers may have lanes open
    with BackgroundPool(1) as early:
        assert early.submit(_nice).result() == _nice()  # no lane in the process: nothing changes
        lane = Lane(nice=_nice() + 3)
        try:
            # the thread the pool made before the lane joins it at its next task
            assert early.submit(_nice).result() == _nice() + 3
            assert list(early.map(lambda _: _nice(), range(2))) == [_nice() + 3] * 2
            with BackgroundPool(1) as pool:
                assert pool.submit(_nice).result() == _nice() + 3
        finally:
            lane.close()
    with BackgroundPool(1) as pool:
        assert pool.submit(_nice).result() == _nice()  # the lane closed: back to nothing


def test_results_errors_and_stage_timings_come_back_to_the_caller() -> None:
    lane = Lane(nice=1)
    try:
        caller = threading.get_ident()
        assert lane.run(lambda a, b=0: (a + b, threading.get_ident() != caller), 2, b=3) == (
            5,
            True,
        )
        with pytest.raises(KeyError, match="gone"):
            lane.run(lambda: {}["gone"])

        def work() -> None:
            with stage("decode"):
                pass

        with timed() as stages:
            lane.run(work)
        assert "decode" in stages
    finally:
        lane.close()


def test_a_thread_of_the_lane_runs_nested_work_itself() -> None:
    """Work on the lane that hands more work to it runs it in place: with every thread of the
    lane waiting on a nested hop, the lane would deadlock."""
    lane = Lane(nice=1, workers=1)
    try:
        outer = lane.run(lambda: (threading.get_ident(), lane.run(threading.get_ident)))
        assert outer[0] == outer[1]
        assert lane.inside() is False
        assert lane.run(lane.inside) is True
    finally:
        lane.close()
