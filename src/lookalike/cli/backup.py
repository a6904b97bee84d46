"""``lookalike backup`` and ``lookalike restore``: a collection as one file, and back, whether a
server holds the data folder (through its API) or not (on the store itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lookalike.cli.app import app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import CollectionName, DataDir, JsonOut, ServerUrl, output_file
from lookalike.cli.output import out, print_json


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write.", callback=output_file)],
    collection: CollectionName,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Write a collection to one file: a manifest (versions, configuration, counts, checksums)
    and every record with its vectors. Works while a server runs."""
    target = engine_for(data_dir, server)
    try:
        report = target.backup(collection, file)
    finally:
        target.close()
    if json_out:
        print_json(report.to_dict())
    else:
        out.print(
            f"backed up {report.records} records of {collection} to {report.file} "
            f"({report.bytes / 2**20:.1f} MiB)",
            markup=False,
        )


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by lookalike backup.")],
    collection: Annotated[
        str | None,
        typer.Option("--collection", "-c", help="Restore as (default: the backup's own name)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a collection that holds records.")
    ] = False,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Restore a backup file, checking its manifest and checksums first and comparing the copy
    with the file at the end."""
    target = engine_for(data_dir, server)
    try:
        report = target.restore(file, name=collection, overwrite=overwrite)
    finally:
        target.close()
    if json_out:
        print_json(report.to_dict())
    else:
        out.print(
            f"restored {report.total} records as {report.collection}; "
            f"{report.verified} compared with the backup",
            markup=False,
        )
