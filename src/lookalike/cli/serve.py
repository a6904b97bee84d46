"""``lookalike serve``."""

from __future__ import annotations

from typing import Annotated

import typer

from lookalike.cli.app import app
from lookalike.cli.options import DataDir
from lookalike.cli.output import err
from lookalike.config import Settings


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="API processes on the one port (default 1, the workers setting); more than "
            "one needs a Qdrant server store (store = http(s)://...).",
        ),
    ] = None,
    allow_unauthenticated: Annotated[
        bool,
        typer.Option(
            "--allow-unauthenticated",
            help="Listen beyond localhost although no API keys are configured.",
        ),
    ] = False,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level", help="debug, info, warning or error (default: the log_level setting)."
        ),
    ] = None,
    root_path: Annotated[
        str | None,
        typer.Option(
            "--root-path",
            help="Sub-path a reverse proxy serves lookalike under, e.g. /search "
            "(the root_path setting).",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated proxy addresses whose X-Forwarded-* headers are trusted, "
            "* for any (default 127.0.0.1).",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Serve the REST API, the compatibility routes and the web page (from several processes
    with --workers N and a Qdrant server store)."""
    from lookalike.api.serve import check_bind, check_workers, run

    settings = Settings.load(
        data_dir=data_dir,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        root_path=root_path,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    check_workers(settings)  # before any note: a refused start says only why
    for note in check_bind(settings, allow_unauthenticated=allow_unauthenticated):
        err.print(note, markup=False)
    run(settings, announce=lambda line: err.print(line, markup=False, soft_wrap=True))
