"""``lookalike migrate``: copy a collection to another store (a server, or a data folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lookalike.cli.app import app
from lookalike.cli.options import DataDir, JsonOut
from lookalike.cli.output import out, print_json
from lookalike.cli.progress import count_bar
from lookalike.config import Settings


@app.command()
def migrate(
    name: Annotated[str, typer.Argument(help="Collection to copy.")],
    to: Annotated[
        str,
        typer.Option("--to", help="Target store: edge, http(s)://HOST:6333 or qdrant-local:PATH."),
    ],
    source: Annotated[
        str | None,
        typer.Option("--from", help="Source store (default: the store setting)."),
    ] = None,
    to_data_dir: Annotated[
        Path | None,
        typer.Option(
            "--to-data-dir",
            help="Data folder of an edge target (default: the data folder): edge to another "
            "folder is a backup.",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a target collection holding records.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 256,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
) -> None:
    """Copy a collection between stores with its ids, vectors, payload, configuration and
    people; resumable (rerun after an interruption), verified at the end."""
    settings = Settings.load(data_dir=data_dir)
    target_settings = settings.replace(data_dir=to_data_dir) if to_data_dir else settings
    from lookalike.store import open_store
    from lookalike.store.migrate import migrate as migrate_collection

    from_store = open_store(settings, source)
    to_store = open_store(target_settings, to)
    try:
        with count_bar(f"copying {name}") as show:
            report = migrate_collection(
                name,
                from_store,
                to_store,
                batch_size=batch_size,
                overwrite=overwrite,
                progress=show,
            )
    finally:
        from_store.close()
        to_store.close()
    if json_out:
        print_json(report.to_dict())
    else:
        out.print(
            f"copied {report.copied} records ({report.already_there} already there) of "
            f"{report.total} to {to}; {report.verified} compared in both stores",
            markup=False,
        )
