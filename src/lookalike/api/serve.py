"""Running the server: bind rules, the announcement, and the ``server.json`` marker that tells
other lookalike processes (the CLI) that a server holds this data folder."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lookalike.config import Settings
from lookalike.errors import BadInput

MARKER = "server.json"


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

    configure(settings, level=log_level)
    logging.getLogger("lookalike.server").info(
        "starting lookalike on %s:%d",
        settings.host,
        settings.port,
        extra={"settings": json.dumps(settings_summary(settings), default=str)},
    )
    app = create_app(settings)
    url = base_url(settings)
    announce(f"lookalike serving {settings.data_dir} at {url}")
    root = settings.root_path
    announce(f"page: {url}{root}/   API docs: {url}{root}/docs")
    if root:
        announce(f"serving under {root}/ (a proxy may strip it or keep it)")
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


def remove_marker(marker: Path) -> None:
    """Remove the marker if this process wrote it (another server may have replaced it)."""
    try:
        if json.loads(marker.read_text()).get("pid") == os.getpid():
            marker.unlink()
    except (OSError, ValueError):
        pass
