"""``lookalike collections``: list, create, show, drop, alias, thumbnails."""

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
from lookalike.cli.progress import ingest_bar
from lookalike.errors import BadInput


@collections_app.command("list")
def collections_list(
    json_out: JsonOut = False, data_dir: DataDir = None, server: ServerUrl = None
) -> None:
    """List collections, then aliases ('alias -> collection'; --json: the names only, see
    'collections aliases')."""
    with engine_for(data_dir, server) as engine:
        names = engine.list_collections()
        aliases = engine.aliases()
    if json_out:
        print_json(names)
    else:
        for name in names:
            out.print(name, markup=False)
        for alias, target in sorted(aliases.items()):
            out.print(f"{alias} -> {target}", markup=False)


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


@collections_app.command("aliases")
def collections_aliases(
    json_out: JsonOut = False, data_dir: DataDir = None, server: ServerUrl = None
) -> None:
    """List aliases and the collection each names."""
    with engine_for(data_dir, server) as engine:
        aliases = engine.aliases()
    if json_out:
        print_json(aliases)
    else:
        for alias, target in sorted(aliases.items()):
            out.print(f"{alias} -> {target}", markup=False)


@collections_app.command("alias")
def collections_alias(
    name: Annotated[str, typer.Argument(help="The alias.")],
    target: Annotated[
        str | None, typer.Argument(help="The collection it names (create or switch).")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the alias.")] = False,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Give a collection a second name, or switch that name to another collection in one
    atomic step (every search after it uses the new one); --remove removes it. Every command
    taking a collection name takes an alias."""
    if remove and target is not None:
        raise BadInput(f"--remove removes alias {name!r}: give it without TARGET ({target})")
    if not remove and target is None:
        raise BadInput("give the collection the alias names (TARGET), or --remove")
    with engine_for(data_dir, server) as engine:
        aliases = engine.set_alias(name, target)
    if json_out:
        print_json(aliases)
    elif remove:
        err.print(f"removed alias {name}", markup=False)
    else:
        err.print(f"{name} -> {target}", markup=False)


@collections_app.command("thumbnails")
def collections_thumbnails(
    name: str,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Turn thumbnails on for a collection and make the missing ones from the sources that are
    still there (files, URLs); each record's outcome is reported, and running it again makes
    only the ones still missing. Through a server, it reads files under its allowed_roots."""
    with engine_for(data_dir, server) as engine, ingest_bar() as show:
        report = engine.collection(name).make_thumbnails(progress=show)
    if json_out:
        print_json(report.to_dict())
    err.print(
        f"thumbnails made {report.made}, source missing {report.source_missing}, failed "
        f"{report.failed}, already there {report.kept} in {report.seconds:.1f}s",
        markup=False,
    )
    problems = [o for o in report.outcomes if o.status != "made"]
    for o in problems[:50]:
        err.print(
            f"  {o.status.replace('_', ' ')}: {o.id} ({o.source}): {o.message}",
            markup=False,
            soft_wrap=True,
        )
    if len(problems) > 50:
        err.print(f"  ... and {len(problems) - 50} more (use --json for all)")
