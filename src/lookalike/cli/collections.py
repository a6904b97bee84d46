"""``lookalike collections``: list, create, show, drop."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lookalike.cli.app import collections_app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import (
    DataDir,
    JsonOut,
    OnUnsafeOption,
    PrecisionOption,
    ServerUrl,
    Yes,
)
from lookalike.cli.output import err, out, print_json
from lookalike.errors import BadInput


@collections_app.command("list")
def collections_list(
    json_out: JsonOut = False, data_dir: DataDir = None, server: ServerUrl = None
) -> None:
    """List collections."""
    with engine_for(data_dir, server) as engine:
        names = engine.list_collections()
    if json_out:
        print_json(names)
    else:
        for name in names:
            out.print(name)


@collections_app.command("create")
def collections_create(
    name: str,
    signals: Annotated[
        str | None, typer.Option(help="e.g. semantic,duplicate,moderation,exif")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Semantic model name or folder.")] = None,
    on_unsafe: OnUnsafeOption = None,
    thumbnails: Annotated[
        bool | None,
        typer.Option(
            "--thumbnails/--no-thumbnails",
            help="Keep a small JPEG of each image (default: the thumbnails setting, on).",
        ),
    ] = None,
    precision: PrecisionOption = None,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Create an empty collection."""
    with engine_for(data_dir, server) as engine:
        coll = engine.create_collection(
            name,
            signals=signals,
            model=model,
            on_unsafe=on_unsafe,  # type: ignore[arg-type]  # checked by the engine
            thumbnails=thumbnails,
            precision=precision,  # type: ignore[arg-type]  # checked by the engine
        )
        print_json(coll.info())


@collections_app.command("show")
def collections_show(name: str, data_dir: DataDir = None, server: ServerUrl = None) -> None:
    """Counts and configuration of a collection."""
    with engine_for(data_dir, server) as engine:
        print_json(engine.collection(name).info())


@collections_app.command("drop")
def collections_drop(
    name: str,
    yes: Yes = False,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Delete a collection and everything in it."""
    if not yes and not sys.stdin.isatty():
        raise BadInput("collections drop asks for confirmation: add --yes when not interactive")
    if not yes and not typer.confirm(f"Drop collection {name!r} and all its records?"):
        raise typer.Exit(1)
    with engine_for(data_dir, server) as engine:
        engine.drop_collection(name)
    if json_out:  # as the REST API answers
        print_json({"deleted": name})
    err.print(f"dropped {name}", markup=False)
