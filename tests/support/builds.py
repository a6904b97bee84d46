"""Index builds held open until a test lets them go: what a test sees during a build, and what
goes on meanwhile, then does not depend on how long a build takes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import lookalike.store.edge as edge


def hold_builds(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make every index build wait, once started, until ``release`` is set (at most 60 s);
    ``entered`` is set when one has started. Answers (release, entered)."""
    release, entered = threading.Event(), threading.Event()
    build = edge.optimize_in_child

    def held(shard_dir: Path) -> bool:
        entered.set()
        release.wait(60)
        return build(shard_dir)

    monkeypatch.setattr(edge, "optimize_in_child", held)
    return release, entered
