"""Where a query's time goes: named stages (``decode``, ``embed``, ``store``, ``verify``, ...)
timed where the work happens and reported by the server in a ``Server-Timing`` header.

A caller opens :func:`timed`; code below it in the same context adds to its stages with
:func:`stage`. Without an open collector a stage costs one context-variable lookup, so the core
times itself always and only a caller that asks pays for the dictionary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[dict[str, float] | None] = ContextVar("lookalike_stages", default=None)


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    """Collect the milliseconds spent in each stage below this block, by stage name."""
    stages: dict[str, float] = {}
    token = _current.set(stages)
    try:
        yield stages
    finally:
        _current.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the time spent in this block to the stage ``name`` of the open collector."""
    stages = _current.get()
    if stages is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + 1000 * (time.perf_counter() - start)


def server_timing(stages: dict[str, float]) -> str:
    """The stages as a ``Server-Timing`` header value (``name;dur=ms``, comma separated)."""
    return ", ".join(f"{name};dur={ms:.2f}" for name, ms in stages.items())
