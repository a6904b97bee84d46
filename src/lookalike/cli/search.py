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
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="Search by this part of the query image: X,Y,W,H in pixels, or as fractions "
            "of its width and height when all four are at most 1.",
        ),
    ] = None,
    like: Annotated[
        list[str] | None,
        typer.Option("--like", help="A positive example: results like this record. Repeatable."),
    ] = None,
    unlike: Annotated[
        list[str] | None,
        typer.Option(
            "--unlike", help="A negative example: results unlike this record. Repeatable."
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
    group_score: Annotated[
        str,
        typer.Option(
            "--group-score",
            help="With --group: a product scores by its best photo (max) or the mean of its "
            "best --group-top photos (mean).",
        ),
    ] = "max",
    group_top: Annotated[
        int, typer.Option("--group-top", help="Photos a mean group score counts.")
    ] = 3,
    score: Annotated[
        list[str] | None,
        typer.Option(
            "--score",
            help="Score an image query's results by this signal too, whatever it costs "
            "(faces: a detector run; duplicate: the query's hash). Repeatable.",
        ),
    ] = None,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Search a collection by image, text, record id, person or examples (--like, --unlike);
    one result set per query."""
    queries: list[tuple[str, dict[str, Any]]] = []
    for spec in _expand_images(image or []):
        queries.append((spec, {"image": spec}))
    queries += [(t, {"text": t}) for t in text or []]
    queries += [(i, {"id": i}) for i in id or []]
    queries += [(f"person {p}", {"person": p}) for p in person or []]
    if not queries and like:
        queries.append(("like " + ", ".join(like), {}))
    if not queries:
        raise BadInput("give --image, --text, --id, --person or --like")
    extra: dict[str, Any] = {
        "face": face,
        "box": _box(box),
        "region": _region(region),
        "positive": like or (),
        "negative": unlike or (),
        "scores": tuple(score or ()),
    }
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
                    **extra,
                    top_k=top_k,
                    threshold=threshold,
                    signal=signal,
                    filter=filter,
                    group=group,
                    group_score=group_score,
                    group_top=group_top,
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


def _region(text: str | None) -> tuple[float, float, float, float] | None:
    """``X,Y,W,H`` as the core's (left, top, right, bottom); fractions stay fractions."""
    if text is None:
        return None
    try:
        x, y, w, h = (float(v) for v in text.split(","))
    except ValueError:
        raise BadInput(f"--region wants X,Y,W,H (pixels or fractions), not {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise BadInput(f"--region {text!r}: X and Y at least 0, W and H above 0")
    if max(x, y, w, h) <= 1 and (x + w > 1 or y + h > 1):
        raise BadInput(f"--region {text!r}: as fractions, X+W and Y+H are at most 1")
    return x, y, x + w, y + h


def _expand_images(specs: list[str]) -> list[str]:
    """Query images: a folder is walked as ``index`` walks it; ``-`` reads lines from stdin."""
    from lookalike.sources import Item, iter_items

    expanded: list[str] = []
    for spec in specs:
        if spec == "-":
            expanded.extend(line.strip() for line in sys.stdin if line.strip())
        elif Path(spec).is_dir():  # an entry that is no image fails as its own query
            expanded.extend(
                str(i.path) if isinstance(i, Item) and i.path else i.source
                for i in iter_items([spec])
            )
        else:
            expanded.append(spec)
    return expanded
