"""``lookalike reindex``."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer

from lookalike.cli.app import app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import CollectionName, DataDir, JsonOut, ServerUrl
from lookalike.cli.output import err, out, print_json
from lookalike.cli.progress import ingest_bar
from lookalike.types import Progress, ReindexReport, check_precision


@app.command()
def reindex(
    collection: CollectionName = "default",
    model: Annotated[
        str | None, typer.Option(help="The new version's semantic model name or folder.")
    ] = None,
    signals: Annotated[
        str | None,
        typer.Option(help="The new version's signals, comma-separated (default: unchanged)."),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(help="The new version's model precision: fp32, or int8 (default: unchanged)."),
    ] = None,
    drop_previous: Annotated[
        bool,
        typer.Option("--drop-previous", help="Drop the previous version after the switch."),
    ] = False,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Build a collection again (new model, signals) from its records' sources while searches
    keep using it, then switch its name to the new version (NAME@vN) atomically. Ids, metadata,
    groups and people names are kept; records whose source is gone are listed. Interrupted, the
    same command continues it. The previous version is kept unless --drop-previous."""
    from lookalike.client import Client

    with engine_for(data_dir, server) as engine, ingest_bar() as show:
        run = partial(
            engine.reindex,
            collection,
            model=model,
            signals=signals,
            precision=None if precision is None else check_precision(precision),
            drop_previous=drop_previous,
        )
        if isinstance(engine, Client):  # a server's job, polled: its total is not known here
            report = run(progress=lambda done, ok, failed: show(Progress(0, done, ok, failed)))
        else:
            report = run(progress=show)
    _print(report, json_out)


def _print(report: ReindexReport, json_out: bool) -> None:
    if json_out:
        print_json(report.to_dict())
    else:
        kept = "dropped" if report.previous_dropped else "kept"
        out.print(
            f"{report.name} -> {report.current} (previous {report.previous}, {kept}): "
            f"{report.records} records, {report.indexed} indexed, {report.already_there} "
            f"already there, {len(report.missing)} missing",
            markup=False,
        )
    for m in report.missing:
        err.print(f"missing {m.id}: {m.message}", markup=False, soft_wrap=True)
