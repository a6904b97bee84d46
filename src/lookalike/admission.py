"""Admission of expensive work: a few at once, the next few waiting in arrival order, the rest
refused at once with :class:`~lookalike.errors.Busy`.

A copy search extracts keypoints of the query image and verifies candidates geometrically, which
costs a core for a while; twenty of them at once would take every core from the cheap queries
(by id, by text) and hold every query image in memory. :class:`Admission` lets ``running`` of
them work at once and ``waiting`` more queue first in, first served; a request that finds the
queue full is refused before its image is decoded, so the memory held for queued work is at most
``waiting`` request bodies."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from lookalike.errors import Busy
from lookalike.stages import stage


class Admission:
    """At most ``running`` holders at once and ``waiting`` queued, served in arrival order."""

    def __init__(self, name: str, running: int, waiting: int, retry_after: float = 1.0) -> None:
        if running < 1 or waiting < 0:
            raise ValueError("running must be at least 1 and waiting at least 0")
        self.name = name
        self.running = running
        self.waiting = waiting
        self.retry_after = retry_after
        self._cond = threading.Condition()
        self._queue: deque[int] = deque()
        self._tickets = itertools.count()
        self._last = -1
        self._active = 0
        self._mean: float | None = None
        self.peak_active = 0
        """The most holders there ever were at once (the tests check the bound)."""
        self.peak_waiting = 0
        self.refused = 0
        self.out_of_order = 0
        """Turns given to a later arrival before an earlier one (the tests check it is 0)."""

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Wait for a turn (first come, first served), or raise Busy if the queue is full."""
        with self._cond:
            ticket = next(self._tickets)
            if self._active >= self.running or self._queue:
                if len(self._queue) >= self.waiting:
                    self.refused += 1
                    retry = self.expected_wait()
                    raise Busy(
                        f"too many {self.name} at once ({self.running} running, {self.waiting} "
                        f"waiting): retry in {retry:.0f} s",
                        retry_after=retry,
                        detail={"running": self.running, "waiting": self.waiting},
                    )
            self._queue.append(ticket)
            with stage("queue"):
                while self._queue[0] is not ticket or self._active >= self.running:
                    self.peak_waiting = max(self.peak_waiting, len(self._queue))
                    self._cond.wait()
            self._queue.popleft()
            if ticket < self._last:
                self.out_of_order += 1
            self._last = ticket
            self._active += 1
            self.peak_active = max(self.peak_active, self._active)
            self._cond.notify_all()  # the next in line may fit too
        start = time.monotonic()
        try:
            yield
        finally:
            took = time.monotonic() - start
            with self._cond:
                self._active -= 1
                self._mean = took if self._mean is None else 0.8 * self._mean + 0.2 * took
                self._cond.notify_all()

    def expected_wait(self) -> float:
        """Seconds until the queue as it is now has been served (at least ``retry_after``):
        what a refused request is told to wait, from the recent holds' mean duration."""
        if self._mean is None:
            return self.retry_after
        turns = (len(self._queue) + self._active) / self.running
        return max(self.retry_after, self._mean * turns)


@cache
def copy_searches(running: int, waiting: int) -> Admission:
    """The process's one admission of copy searches (shared by every collection and request)."""
    return Admission("copy searches", running, waiting)
