"""What one server process holds: the engine (which owns the embedded store) and its helpers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from lookalike.config import Settings
from lookalike.engine import Collection, Engine
from lookalike.errors import BadInput, NotFound


@dataclass
class ServerState:
    settings: Settings
    engine: Engine
    lock: threading.RLock = field(default_factory=threading.RLock)
    """Guards opening and creating collections; searches and writes run concurrently (the
    store is safe for that)."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Per-feature state (jobs, metrics, ...), keyed by feature name."""

    def collection(self, name: str) -> Collection:
        """An existing collection; the engine keeps it open, so this costs no disk access
        after the first request."""
        with self.lock:
            try:
                return self.engine.collection(name)
            except (NotFound, BadInput):  # an invalid name names no collection either
                raise NotFound(f"no collection {name!r}") from None

    def collection_or_create(self, name: str) -> Collection:
        """For the compatibility routes: a collection is created on first insert, with the
        server's default signals."""
        with self.lock:
            try:
                return self.engine.collection(name)
            except NotFound:
                return self.engine.create_collection(name)


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.lookalike
    return state


State = Annotated[ServerState, Depends(get_state)]
"""Route parameter type: ``def route(state: State)``."""
