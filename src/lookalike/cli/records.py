"""Records: list them page by page (``records``), one by one (``get``, ``delete``, ``update``)."""

from __future__ import annotations

import json
import shlex
from typing import Annotated

import typer
from rich.text import Text

from lookalike.cli.app import app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import CollectionName, DataDir, JsonOut, ServerUrl
from lookalike.cli.output import err, print_json, print_table
from lookalike.errors import BadInput


@app.command()
def records(
    collection: CollectionName = "default",
    filter: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="MongoDB-like metadata filter, as for search."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=1000, help="Records per page (1..1000).")
    ] = 100,
    cursor: Annotated[
        str | None,
        typer.Option("--cursor", help="Where to go on: the next_cursor of the page before."),
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            help="-indexed_at (newest first), indexed_at, -taken_at (latest capture time "
            "first) or taken_at; records without the time come last. Default: store order.",
        ),
    ] = None,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """List records, a page at a time; --cursor goes on where a page ended (same --sort)."""
    with engine_for(data_dir, server) as engine:
        found, next_cursor = engine.collection(collection).list_records(
            filter=filter, limit=limit, offset=cursor, sort=sort
        )
    if json_out:
        print_json({"records": found, "next_cursor": next_cursor})
        return
    rows: list[list[str | Text]] = [
        [
            r["id"],
            str(r.get("source") or ""),
            str(r.get("group") or ""),
            json.dumps(r["metadata"], ensure_ascii=False) if r.get("metadata") else "",
        ]
        for r in found
    ]
    print_table(["id", "source", "group", "metadata"], rows)
    if next_cursor is not None:
        err.print(
            f"more: --cursor {shlex.quote(next_cursor)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def get(
    record_id: Annotated[str, typer.Argument(help="Record id.")],
    collection: CollectionName = "default",
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Show one record as JSON."""
    with engine_for(data_dir, server) as engine:
        print_json(engine.collection(collection).get(record_id))


@app.command()
def delete(
    record_ids: Annotated[list[str], typer.Argument(help="Record ids.")],
    collection: CollectionName = "default",
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Delete records; exits 3 if any id was not found."""
    with engine_for(data_dir, server) as engine:
        outcome = engine.collection(collection).delete(record_ids)
    if json_out:  # as the REST API answers: {id: whether it existed}
        print_json({"deleted": outcome})
    for rid, existed in outcome.items():
        err.print(f"{'deleted' if existed else 'not found'}: {rid}", markup=False)
    if not all(outcome.values()):
        raise typer.Exit(3)


@app.command()
def update(
    record_id: Annotated[str, typer.Argument(help="Record id.")],
    metadata: Annotated[
        str | None, typer.Option(help="New metadata as a JSON object (replaces the old).")
    ] = None,
    merge: Annotated[bool, typer.Option(help="Merge into the old metadata instead.")] = False,
    group: Annotated[str | None, typer.Option(help="New group.")] = None,
    collection: CollectionName = "default",
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Change a record's metadata or group."""
    parsed = None
    if metadata is not None:
        try:
            parsed = json.loads(metadata)
        except json.JSONDecodeError as exc:
            raise BadInput(f"--metadata is not valid JSON: {exc}") from exc
    with engine_for(data_dir, server) as engine:
        print_json(
            engine.collection(collection).update(
                record_id, metadata=parsed, group=group, merge=merge
            )
        )
