"""Admission of expensive work: a bounded number at once, the next in arrival order, the rest
refused at once with Busy."""

from __future__ import annotations

import threading
import time

import pytest

from lookalike.admission import Admission
from lookalike.errors import Busy
from lookalike.stages import stage, timed


def test_holders_are_bounded_served_in_order_and_the_overflow_is_refused() -> None:
    gate = Admission("copy searches", running=1, waiting=3, retry_after=2.0)
    order: list[int] = []
    release = threading.Event()
    refused: list[Busy] = []

    def work(n: int) -> None:
        try:
            with gate.hold():
                order.append(n)
                release.wait(10)
        except Busy as exc:
            refused.append(exc)

    threads = []
    for n in range(6):  # one runs, three wait, two are refused
        t = threading.Thread(target=work, args=(n,))
        t.start()
        threads.append(t)
        deadline, queued = time.monotonic() + 5, min(n, 3)
        while time.monotonic() < deadline and (gate.peak_active, gate.peak_waiting) < (1, queued):
            time.sleep(0.005)  # the next arrives after this one queued
    release.set()
    for t in threads:
        t.join(10)
    assert order == [0, 1, 2, 3]
    assert len(refused) == 2 and gate.refused == 2
    assert refused[0].retry_after == 2.0 and refused[0].status == 503
    assert gate.peak_active == 1 and gate.peak_waiting == 3 and gate.out_of_order == 0


def test_several_run_at_once_up_to_the_bound() -> None:
    gate = Admission("work", running=2, waiting=10)
    inside = threading.Barrier(2, timeout=5)

    def work() -> None:
        with gate.hold():
            inside.wait()  # both must be inside together, or the barrier times out
            time.sleep(0.02)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not inside.broken and gate.peak_active == 2


def test_a_refusal_leaves_no_ticket_behind() -> None:
    gate = Admission("work", running=1, waiting=0)
    with gate.hold(), pytest.raises(Busy):
        with gate.hold():
            pass
    with gate.hold():  # free again
        pass


def test_stages_add_up_only_inside_a_collector() -> None:
    with stage("decode"):
        pass  # nobody collects: nothing to do
    with timed() as stages:
        for _ in range(2):
            with stage("decode"):
                time.sleep(0.01)
    assert set(stages) == {"decode"} and stages["decode"] >= 20
