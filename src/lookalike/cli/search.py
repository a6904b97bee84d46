"""``lookalike search``: one result set per query, several queries in one run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lookalike.cli.app import app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import CollectionName, DataDir, JsonOut, ServerUrl
from lookalike.cli.output import print_json, query_error, results_table
from lookalike.errors import BadInput, LookalikeError
from lookalike.sources import Item, iter_items


@app.command()
def search(
    image: Annotated[
        list[str] | None,
        typer.Option(
            "--image",
            "-i",
            help="Query image: path, URL, folder (each image in it) or - "
            "(paths/URLs on stdin). Repeatable; one result set per image.",
        ),
    ] = None,
    text: Annotated[
        list[str] | None, typer.Option("--text", "-t", help="Text query. Repeatable.")
    ] = None,
    id: Annotated[
        list[str] | None,
        typer.Option(
            "--id",
            help="Neighbours of an indexed record (the record itself excluded). Repeatable.",
        ),
    ] = None,
    collection: CollectionName = "default",
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Results per query.")] = 10,
    threshold: Annotated[float | None, typer.Option(help="Minimum score, 0..1.")] = None,
    signal: Annotated[
        str | None, typer.Option(help="Signal to rank by: semantic, duplicate, faces or text.")
    ] = None,
    person: Annotated[
        list[str] | None,
        typer.Option("--person", "-p", help="Every image of this person (name or id). Repeatable."),
    ] = None,
    face: Annotated[
        int | None,
        typer.Option("--face", help="Face search by this face of the query (0 = largest)."),
    ] = None,
    box: Annotated[
        str | None,
        typer.Option(
            "--box", help="Face search by the face in this box: LEFT,TOP,RIGHT,BOTTOM pixels."
        ),
    ] = None,
    filter: Annotated[
        str | None,
        typer.Option(
            "--filter", "-f", help='MongoDB-like metadata filter, e.g. \'{"price": {"$lt": 100}}\'.'
        ),
    ] = None,
    group: Annotated[
        bool, typer.Option("--group", help="One best hit per group (product id).")
    ] = False,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Search a collection by image, text, record id or person; one result set per query."""
    queries: list[tuple[str, dict[str, Any]]] = []
    for spec in _expand_images(image or []):
        queries.append((spec, {"image": spec}))
    queries += [(t, {"text": t}) for t in text or []]
    queries += [(i, {"id": i}) for i in id or []]
    queries += [(f"person {p}", {"person": p}) for p in person or []]
    if not queries:
        raise BadInput("give --image, --text, --id or --person")
    faces: dict[str, Any] = {"face": face, "box": _box(box)}
    failed = 0
    with engine_for(data_dir, server) as engine:
        try:
            coll = engine.collection(collection)
        except LookalikeError as exc:  # every query fails alike
            if json_out:
                for label, _ in queries:
                    query_error(label, exc, json_out=True)
            raise
        for label, q in queries:
            try:
                results = coll.search(
                    **q,
                    **faces,
                    top_k=top_k,
                    threshold=threshold,
                    signal=signal,
                    filter=filter,
                    group=group,
                )
            except LookalikeError as exc:
                if len(queries) == 1:
                    if json_out:  # the answer on stdout, the one-line error on stderr
                        query_error(label, exc, json_out=True)
                    raise
                query_error(label, exc, json_out)
                failed = max(failed, exc.exit_code)
                continue
            if json_out:
                print_json({"query": label, "results": [r.to_dict() for r in results]})
            else:
                results_table(label, results)
    if failed:
        raise typer.Exit(failed)


def _box(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        left, top, right, bottom = (float(v) for v in text.split(","))
    except ValueError:
        raise BadInput(f"--box wants LEFT,TOP,RIGHT,BOTTOM in pixels, not {text!r}") from None
    return left, top, right, bottom


def _expand_images(specs: list[str]) -> list[str]:
    """Query images: a folder is walked as ``index`` walks it; ``-`` reads lines from stdin."""
    expanded: list[str] = []
    for spec in specs:
        if spec == "-":
            expanded.extend(line.strip() for line in sys.stdin if line.strip())
        elif Path(spec).is_dir():
            expanded.extend(
                str(i.path) for i in iter_items([spec]) if isinstance(i, Item) and i.path
            )
        else:
            expanded.append(spec)
    return expanded
