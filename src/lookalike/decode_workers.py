"""Decode workers: what each image goes through before the models see it, and the processes
that do it.

Every image is read, hashed, decoded at the smallest size the signals need (JPEG draft mode)
and prepared per signal (hashes, face boxes) in a worker process, so the CPU-bound decoding of
one batch overlaps the embedding of the previous one in the ingest process. Small runs and
queries decode in-process (:class:`Inline`); a long-lived process keeps one :class:`DecodePool`
between runs.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookalike.config import Settings
from lookalike.images import DecodedImage, decode, encode_thumbnail
from lookalike.signals.base import Preparer, Signal, direct_sides, own_side, shared_side
from lookalike.sources import content_hash, read_file_bytes

#: Below this many images to decode, a process pool costs more than it saves.
POOL_MIN_ITEMS = 16
#: Longer side, in pixels, of the thumbnails kept by collections made with ``thumbnails``.
THUMBNAIL_SIDE = 256


@dataclass(frozen=True)
class DecodePlan:
    """What the decode workers do with each image: picklable, the same for every item."""

    min_side: int
    max_pixels: int
    max_bytes: int
    preparers: tuple[tuple[str, Preparer], ...]
    own_sides: tuple[tuple[str, int], ...] = ()
    """Signals that read their own copy of the image, decoded at this larger shorter edge
    (:func:`lookalike.signals.base.own_side`); the others share the one at ``min_side``."""
    thumbnail_side: int = 0
    """Longer side of the JPEG thumbnail kept with each record; 0 keeps none."""
    direct: tuple[int, ...] = ()
    """Shorter edges of the smaller copies resized straight from the decoded pixels
    (:func:`lookalike.signals.base.direct_sides`)."""


@dataclass
class Prepared:
    content_hash: str
    width: int
    height: int
    format: str
    byte_size: int
    outputs: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    """Milliseconds the worker spent on this image: ``decode`` (read, hash, decode) and each
    signal's preparer."""
    thumbnail: bytes | None = None
    payload: dict[str, Any] | None = None
    """The signals' payload fields, once computed from ``outputs`` where they were made: a
    cluster worker sends these back instead of the outputs (a decoded image among them)."""


def prepare(plan: DecodePlan, path: str | None, data: bytes | None, name: str) -> Prepared:
    """Read, hash, decode and prepare one image (runs in a decode worker)."""
    start = time.perf_counter()
    if data is None:
        assert path is not None
        data = read_file_bytes(Path(path), max_bytes=plan.max_bytes)
    decoded = decode(
        data, name=name, min_side=plan.min_side, max_pixels=plan.max_pixels, direct=plan.direct
    )
    digest = content_hash(data)
    timings = {"decode": 1000 * (time.perf_counter() - start)}
    outputs = {}
    own = dict(plan.own_sides)
    copies: dict[int, DecodedImage] = {}
    for signal, fn in plan.preparers:
        start = time.perf_counter()
        image = decoded
        if signal in own:  # its own decode counts in its time
            side = own[signal]
            if side not in copies:
                copies[side] = decode(data, name=name, min_side=side, max_pixels=plan.max_pixels)
            image = copies[side]
        outputs[signal] = fn(image)
        timings[signal] = 1000 * (time.perf_counter() - start)
    thumbnail = None
    if plan.thumbnail_side:
        start = time.perf_counter()
        thumbnail = _thumbnail(plan, decoded)
        timings["thumbnail"] = 1000 * (time.perf_counter() - start)
    return Prepared(
        digest,
        decoded.width,
        decoded.height,
        decoded.format,
        len(data),
        outputs,
        timings,
        thumbnail,
    )


def make_thumbnail(plan: DecodePlan, data: bytes, name: str) -> bytes:
    """The thumbnail ingest keeps of these image bytes (decoded at the plan's size): what a
    backfill makes for records indexed without one (:mod:`lookalike.thumbnails`)."""
    decoded = decode(
        data, name=name, min_side=plan.min_side, max_pixels=plan.max_pixels, direct=plan.direct
    )
    return _thumbnail(plan, decoded)


def _thumbnail(plan: DecodePlan, decoded: DecodedImage) -> bytes:
    """Shrunk from the smallest of the decode's images that still covers it: a direct copy
    (224 px beside a 512 px image) makes it in about a third of the time."""
    side = plan.thumbnail_side or THUMBNAIL_SIDE
    covering = [im for im in (decoded.image, *decoded.direct.values()) if max(im.size) >= side]
    image = min(covering, key=lambda im: im.width * im.height, default=decoded.image)
    return encode_thumbnail(image, side)


def decode_plan(
    signals: Sequence[Signal], settings: Settings, *, thumbnails: bool = False
) -> DecodePlan:
    sides = {s.name: own_side(s) for s in signals}
    min_side = shared_side(signals)
    if all(side is not None for side in sides.values()):  # one decode is enough (text alone)
        min_side = max(min_side, *(side or 0 for side in sides.values()))
    return DecodePlan(
        direct=direct_sides(signals),
        min_side=min_side,
        own_sides=tuple(
            (name, side) for name, side in sides.items() if side is not None and side > min_side
        ),
        max_pixels=settings.max_pixels,
        max_bytes=settings.max_image_bytes,
        preparers=tuple((s.name, s.preparer) for s in signals),
        thumbnail_side=THUMBNAIL_SIDE if thumbnails else 0,
    )


class Inline(Executor):
    """Runs submissions at once in this process: for small jobs and queries."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered through the future like a pool would
            future.set_exception(exc)
        return future


def wants_pool(settings: Settings, todo: int) -> bool:
    """Whether ``todo`` images are decoded in worker processes rather than in this one."""
    return todo >= POOL_MIN_ITEMS and _workers(settings) > 1


def pool_for(settings: Settings, todo: int, shared: DecodePool | None = None) -> Executor:
    if not wants_pool(settings, todo):
        return Inline()
    return shared.executor() if shared is not None else _spawn(settings)


def _workers(settings: Settings) -> int:
    return settings.decode_workers or min(os.cpu_count() or 1, 4)


class _WorkerProcess(multiprocessing.context.SpawnProcess):
    """A spawned worker that does not re-import the user's script.

    A spawned child imports the parent's ``__main__`` again so that functions defined there can
    be unpickled. The decode workers run only lookalike's own functions, and re-running a plain
    script (one without an ``if __name__ == "__main__":`` guard, like the README's example) in
    every worker would start indexing again in each of them. So the parent's ``__main__`` is
    hidden for the moment a worker is launched."""

    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            return multiprocessing.context.SpawnProcess._Popen(process_obj)
        finally:
            if main is not None:
                sys.modules["__main__"] = main


class _WorkerContext(multiprocessing.context.SpawnContext):
    Process = _WorkerProcess


def _spawn(settings: Settings) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        _workers(settings),
        mp_context=_WorkerContext(),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


class DecodePool:
    """Decode workers kept between ingest runs, for a long-lived process (the server): starting
    them and loading the signals' models in each costs seconds that every job would pay again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = _spawn(self.settings)
            return self._executor

    def start(self, plan: DecodePlan) -> None:
        """Start every worker now, each importing what ``plan`` runs, without waiting for them:
        a run that starts them before loading its models overlaps the two (on a 2-core machine
        starting the workers costs about as long as decoding 20 camera photos)."""
        executor = self.executor()
        for _ in range(_workers(self.settings)):
            executor.submit(_ready, plan)

    def replace(self, broken: Executor) -> ProcessPoolExecutor:
        """A fresh pool instead of one a crashed worker broke (once, however many runs ask)."""
        with self._lock:
            if self._executor is broken or self._executor is None:
                if self._executor is not None:
                    self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = _spawn(self.settings)
            return self._executor

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None


def _ready(plan: DecodePlan) -> None:
    """Nothing: unpickling ``plan`` has imported the signals' preparers in this worker."""


def _exit_with_parent(parent: int) -> None:
    """Make a decode worker end when its parent dies (a pool's workers otherwise outlive a
    killed parent, holding its pipes open)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
