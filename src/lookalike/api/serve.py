"""Running the server: bind rules, the announcement, the ``server.json`` marker that tells
other lookalike processes (the CLI) that a server holds this data folder, and the workers of
``serve --workers N`` (one app per process, made by :func:`worker_app`)."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.config import Settings
from lookalike.errors import BadInput

if TYPE_CHECKING:
    from fastapi import FastAPI

MARKER = "server.json"
WORKER_SETTINGS = "_LOOKALIKE_WORKER_SETTINGS"
"""Environment variable through which ``serve --workers N`` hands its settings (flags, file
and environment already resolved) to the worker processes uvicorn starts."""
WORKER_HEALTHCHECK = 60
"""Seconds a worker may take to answer its supervisor's first ping. Uvicorn's default (5 s)
is shorter than a worker takes to import lookalike on a busy machine, and a worker that does
not answer in time is killed and started again, over and over."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings, *, allow_unauthenticated: bool) -> list[str]:
    """Refuse to expose an unauthenticated server; the lines to announce at start."""
    notes = []
    if not settings.api_keys:
        if not is_loopback(settings.host) and not allow_unauthenticated:
            raise BadInput(
                f"refusing to listen on {settings.host} without API keys: set api_keys "
                "(LOOKALIKE_API_KEYS) or pass --allow-unauthenticated"
            )
        notes.append(
            "no API keys configured: anyone who can reach this address can use the API"
            if not is_loopback(settings.host)
            else "no API keys configured: listening on localhost only"
        )
    else:
        notes.append(f"{len(settings.api_keys)} API key(s) configured: requests need one")
    if not is_loopback(settings.host) and not settings.allowed_hosts:
        notes.append(
            "answering to IP addresses and localhost names only: list the host names clients "
            "use in allowed_hosts (LOOKALIKE_ALLOWED_HOSTS)"
        )
    return notes


def check_workers(settings: Settings) -> None:
    """Several workers need a store several processes can open: a Qdrant server."""
    if settings.workers == 1:
        return
    store = settings.store.strip()
    if store.lower().startswith(("http://", "https://")):
        return
    if store.lower() == "edge":
        which = "the embedded store (store = edge) is opened by one process only"
    elif store.startswith("qdrant-local:"):
        which = f"qdrant-client's local mode ({store}) is opened by one process only"
    else:
        which = f"{store!r} is not a Qdrant server"
    raise BadInput(
        f"workers = {settings.workers} needs a Qdrant server store: {which}; set store to "
        "http(s)://HOST:6333 (see docs/scaling.md) or serve with --workers 1",
        detail={"workers": settings.workers, "store": store},
    )


def base_url(settings: Settings) -> str:
    host = settings.host
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def write_marker(settings: Settings) -> Path:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / MARKER
    path.write_text(json.dumps({"url": base_url(settings), "pid": os.getpid()}))
    return path


def read_marker(data_dir: Path) -> dict[str, Any] | None:
    """The running server's URL and pid, if a live process wrote the marker."""
    try:
        marker = json.loads((data_dir / MARKER).read_text())
        os.kill(int(marker["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dict(marker)


def run(
    settings: Settings, *, announce: Callable[[str], None], log_level: str | None = None
) -> None:
    import uvicorn

    from lookalike.api.app import create_app
    from lookalike.logs import configure, settings_summary

    check_workers(settings)
    configure(settings, level=log_level)
    logging.getLogger("lookalike.server").info(
        "starting lookalike on %s:%d",
        settings.host,
        settings.port,
        extra={"settings": json.dumps(settings_summary(settings), default=str)},
    )
    if settings.workers > 1:
        if log_level is not None:  # the workers read the level from their settings
            settings = settings.replace(log_level=log_level.lower())
        run_workers(settings, announce=announce)
        return
    app = create_app(settings)
    _announce(settings, announce, "")
    marker = write_marker(settings)
    # Removed on shutdown by the app itself: after a SIGTERM, uvicorn raises the signal again
    # once the app has stopped, which ends the process before the ``finally`` below runs.
    app.state.lookalike.extras.setdefault("on_shutdown", []).append(lambda: remove_marker(marker))
    try:
        # Our handlers and format for uvicorn's own lines; requests are logged by RequestLog
        # (with their id), so uvicorn's access log would only repeat them without it.
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            log_level=(log_level or settings.log_level).lower(),
            proxy_headers=True,
            forwarded_allow_ips=",".join(settings.forwarded_allow_ips) or None,
        )
    finally:
        remove_marker(marker)


def _announce(settings: Settings, announce: Callable[[str], None], how: str) -> None:
    url = base_url(settings)
    announce(f"lookalike serving {settings.data_dir} at {url}{how}")
    root = settings.root_path
    announce(f"page: {url}{root}/   API docs: {url}{root}/docs")
    if root:
        announce(f"serving under {root}/ (a proxy may strip it or keep it)")


def run_workers(settings: Settings, *, announce: Callable[[str], None]) -> None:
    """Serve with ``settings.workers`` processes on one port: uvicorn's supervisor binds the
    socket, starts the workers (each builds its own app with :func:`worker_app`) and restarts
    one that dies. This process writes ``server.json`` once, with its own pid."""
    import uvicorn

    from lookalike.api.jobshare import JobFiles, jobs_folder
    from lookalike.store import open_store

    open_store(settings).close()  # a store that cannot be reached fails here, in one line
    JobFiles.clear(jobs_folder(settings.data_dir))  # jobs do not outlive the server
    os.environ[WORKER_SETTINGS] = settings.model_dump_json()
    _announce(settings, announce, f" with {settings.workers} workers")
    marker = write_marker(settings)
    try:
        uvicorn.run(
            f"{__name__}:worker_app",
            factory=True,
            workers=settings.workers,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            log_level=settings.log_level,
            proxy_headers=True,
            forwarded_allow_ips=",".join(settings.forwarded_allow_ips) or None,
        )
    finally:
        remove_marker(marker)


def worker_app() -> FastAPI:
    """The app of one worker of ``serve --workers N``, in the process uvicorn started for it,
    from the settings the parent resolved."""
    from lookalike.api.app import create_app
    from lookalike.logs import configure

    settings = Settings(**json.loads(os.environ[WORKER_SETTINGS]))
    configure(settings)
    return create_app(settings)


def remove_marker(marker: Path) -> None:
    """Remove the marker if this process wrote it (another server may have replaced it)."""
    try:
        if json.loads(marker.read_text()).get("pid") == os.getpid():
            marker.unlink()
    except (OSError, ValueError):
        pass
