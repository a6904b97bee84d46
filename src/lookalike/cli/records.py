"""Records one by one: ``get``, ``delete``, ``update``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lookalike.cli.app import app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import CollectionName, DataDir, ServerUrl
from lookalike.cli.output import err, print_json
from lookalike.errors import BadInput


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
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Delete records; exits 3 if any id was not found."""
    with engine_for(data_dir, server) as engine:
        outcome = engine.collection(collection).delete(record_ids)
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
