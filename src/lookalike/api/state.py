"""What one server process holds: the engine (which owns the embedded store) and its helpers."""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from lookalike.config import Settings
from lookalike.engine import Collection, Engine
from lookalike.errors import BadInput, NotFound

CHANGES = "collections.changed"
"""The file in the data folder through which the workers of one server (``serve --workers N``)
tell each other that a collection was created, dropped or switched."""


@dataclass
class ServerState:
    settings: Settings
    engine: Engine
    lock: threading.RLock = field(default_factory=threading.RLock)
    """Guards opening and creating collections; searches and writes run concurrently (the
    store is safe for that)."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Per-feature state (jobs, metrics, ...), keyed by feature name."""
    changes: Path | None = None
    """With several workers on one port: the file a worker rewrites when it has created,
    dropped or switched a collection, and the others read before each use of one: when it
    changed, they let go of the collections they hold open, whose configuration may be gone."""
    _seen: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        if self.changes is not None:
            self.changes.parent.mkdir(parents=True, exist_ok=True)
            self._seen = self._stamp()
            self.engine.collection_listeners.append(self._announce)

    def _stamp(self) -> str:
        assert self.changes is not None
        try:
            return self.changes.read_text()
        except OSError:
            return ""

    def _announce(self, name: str) -> None:
        """Tell the other workers that the collections changed."""
        assert self.changes is not None
        stamp = uuid.uuid4().hex
        part = self.changes.with_name(f".{self.changes.name}.{os.getpid()}.{stamp}")
        part.write_text(stamp)
        os.replace(part, self.changes)
        with self.lock:
            self._seen = stamp

    def _catch_up(self) -> None:
        """Let go of the open collections if another worker created, dropped or switched one."""
        if self.changes is None:
            return
        stamp = self._stamp()
        if stamp != self._seen:
            with self.lock:
                self._seen = stamp
                self.engine.forget()

    def collection(self, name: str) -> Collection:
        """An existing collection; the engine keeps it open, so this costs no disk access
        after the first request."""
        self._catch_up()
        try:  # the engine guards its own cache: no second lock on every request's way
            return self.engine.collection(name)
        except (NotFound, BadInput):  # an invalid name names no collection either
            raise NotFound(f"no collection {name!r}") from None

    def collection_or_create(self, name: str) -> Collection:
        """For the compatibility routes: a collection is created on first insert, with the
        server's default signals."""
        self._catch_up()
        with self.lock:
            try:
                return self.engine.collection(name)
            except NotFound:
                return self.engine.create_collection(name)


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.lookalike
    return state


async def get_state(request: Request) -> ServerState:
    """Route dependency. Async, as the other per-request dependencies that do no blocking
    work: FastAPI runs a sync one on a worker thread, a hop that costs a request several turns
    of the interpreter lock when the server is busy."""
    return state_of(request)


State = Annotated[ServerState, Depends(get_state)]
"""Route parameter type: ``def route(state: State)``."""
