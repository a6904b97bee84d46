"""Heavy work at a lower OS priority, so that cheap queries get the cores first.

An insert, an image search or a copy search takes a core for tens to hundreds of ms (decode,
keypoints, verification, the image tower); a search by id or by text needs a few ms, part of it
holding the interpreter lock. With every core busy with heavy work, the thread holding the lock
is preempted for whole time slices and every request of the process waits behind it. A server
therefore runs heavy work on a :class:`Lane`: threads whose nice value is raised, which the
kernel preempts in favour of the others. Threads and processes they start inherit it: ONNX
Runtime's workers (a session is made on first use, there), the copy search's verification
pool, the decode workers of a job.

Linux sets a nice value per thread; on other systems the lane's threads keep the process's
priority (the work still runs, only without the preference)."""

from __future__ import annotations

import contextvars
import functools
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_here = threading.local()
_background: list[int] = []
"""The nice value of this process's lane, once it has one (a server)."""


def lower_this_thread(nice: int) -> bool:
    """Raise this thread's nice value to ``nice`` (never lower it: that needs privileges);
    whether it now runs at ``nice`` or lower priority."""
    if not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return os.getpriority(os.PRIO_PROCESS, tid) >= nice
    except OSError:
        return False


def background_thread() -> None:
    """Join this thread to the lane's priority when the process has a lane."""
    if _background:
        lower_this_thread(_background[-1])


class BackgroundPool(ThreadPoolExecutor):
    """A pool that only does heavy work (a copy search's keypoints and verification, the
    embedding beside a query, jobs): each task joins the lane's priority before it runs, so
    threads the pool made before the process had a lane (an engine used before its server
    started) do not run heavy work at the cheap queries' priority."""

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        return super().submit(_joined, functools.partial(fn, *args, **kwargs))


def _joined(task: Callable[[], R]) -> R:
    background_thread()
    return task()


class Lane:
    """Threads at nice value ``nice`` running work handed to :meth:`run`."""

    def __init__(self, nice: int, workers: int = 40) -> None:
        self.nice = nice
        _background.append(nice)
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="heavy", initializer=self._enter
        )

    def _enter(self) -> None:
        lower_this_thread(self.nice)
        _here.lane = self

    def inside(self) -> bool:
        """Whether the calling thread is one of this lane's."""
        return getattr(_here, "lane", None) is self

    def run(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn(*args, **kwargs)`` on a thread of the lane, in the caller's context (its
        stage timings), waiting for it; on one already, right here."""
        if self.inside():
            return fn(*args, **kwargs)
        context = contextvars.copy_context()

        def work() -> R:
            return context.run(fn, *args, **kwargs)

        return self._pool.submit(work).result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.nice in _background:
            _background.remove(self.nice)
