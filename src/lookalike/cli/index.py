"""``lookalike index``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lookalike.cli.app import app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import CollectionName, DataDir, JsonOut, OnUnsafeOption, ServerUrl
from lookalike.cli.output import print_report
from lookalike.cli.progress import ingest_bar


@app.command()
def index(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Folders, image files, http(s) URLs, text files of URLs/paths, JSONL catalogs."
        ),
    ],
    collection: CollectionName = "default",
    signals: Annotated[
        str | None,
        typer.Option(
            help="Signals for a new collection, comma-separated: semantic, duplicate, faces, "
            "text, moderation, exif."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Semantic model name or folder, for a new collection.")
    ] = None,
    metadata: Annotated[
        Path | None,
        typer.Option(
            "--metadata", help="JSONL file of {id, metadata, group} merged onto the items."
        ),
    ] = None,
    group_by_folder: Annotated[
        bool,
        typer.Option(
            "--group-by-folder", help="Use each image's folder as its group (product id)."
        ),
    ] = False,
    prune: Annotated[
        bool, typer.Option(help="Delete records whose files under the given folders are gone.")
    ] = False,
    on_duplicate: Annotated[
        str,
        typer.Option(
            "--on-duplicate",
            help="Check each new image against the collection first: allow, flag (record "
            "duplicate_of), skip or reject copies.",
        ),
    ] = "allow",
    on_unsafe: OnUnsafeOption = None,
    thumbnails: Annotated[
        bool,
        typer.Option(
            "--thumbnails", help="Keep a small JPEG of each image (a new collection's option)."
        ),
    ] = False,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Index images into a collection (created if missing). Re-running skips unchanged images."""
    with engine_for(data_dir, server) as engine:
        coll = engine.create_collection(
            collection,
            signals=signals,
            model=model,
            exist_ok=True,
            on_unsafe=on_unsafe,  # type: ignore[arg-type]  # checked by the engine
            thumbnails=thumbnails,
        )
        with ingest_bar() as show:
            report = coll.index(
                paths,
                metadata_file=metadata,
                group_by_folder=group_by_folder,
                prune=prune,
                on_duplicate=on_duplicate,  # type: ignore[arg-type]  # checked by the engine
                progress=show,
            )
        print_report(report, json_out)
        if report.failed and not (report.indexed or report.skipped or report.updated):
            raise typer.Exit(2)
