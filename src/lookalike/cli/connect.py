"""Which engine a command talks to: the local store, or the server that holds it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lookalike.cli.output import err
from lookalike.config import Settings

if TYPE_CHECKING:
    from lookalike.client import Client
    from lookalike.engine import Engine


def engine_for(data_dir: Path | None, server: str | None = None) -> Engine | Client:
    """The local engine, or a client of the server named by --server / LOOKALIKE_SERVER or
    found running on the data folder (which then holds the store's lock)."""
    settings = Settings.load(data_dir=data_dir, server=server)
    url, found_by = settings.server, "--server / LOOKALIKE_SERVER"
    if url is None:
        from lookalike.api.serve import MARKER, read_marker

        marker = read_marker(settings.data_dir)
        if marker is None:
            from lookalike.engine import Engine

            return Engine(settings)
        url, found_by = str(marker["url"]), f"found in {settings.data_dir / MARKER}"
    from lookalike.client import Client

    err.print(f"through the server at {url} ({found_by})", style="dim", markup=False)
    key = settings.api_key or next(iter(settings.api_keys), None)
    return Client(url, api_key=key, max_image_bytes=settings.max_image_bytes)
