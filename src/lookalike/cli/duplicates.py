"""``lookalike duplicates``: copy clusters across a collection, and which image to keep."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from lookalike.cli.app import app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import CollectionName, DataDir, JsonOut, ServerUrl, Yes, output_file
from lookalike.cli.output import err, out, print_json
from lookalike.cli.progress import count_bar
from lookalike.errors import BadInput
from lookalike.scoring import check_threshold
from lookalike.types import Member


@app.command()
def duplicates(
    collection: CollectionName = "default",
    threshold: Annotated[
        float | None, typer.Option(help="Score from which two images are copies (0..1).")
    ] = None,
    keep: Annotated[
        str,
        typer.Option(
            help="Which to keep: original, largest, least-compressed, oldest, or FIELD:min|max."
        ),
    ] = "original",
    report: Annotated[
        Path | None,
        typer.Option(help="Write the clusters to this file (.json or .csv).", callback=output_file),
    ] = None,
    delete_copies: Annotated[
        bool, typer.Option("--delete-copies", help="Delete every copy (asks first).")
    ] = False,
    yes: Yes = False,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Group near-duplicates across a collection and say which image of each group to keep."""
    from lookalike.signals.duplicate.clusters import keep_key, write_report

    check_threshold(threshold)  # before the progress bar, and before any store is opened
    keep_key(keep)  # the same for the keep rule
    with engine_for(data_dir, server) as engine:
        coll = engine.collection(collection)
        limit = coll.copy_threshold if threshold is None else threshold
        with count_bar("grouping") as progress:
            clusters = coll.duplicates(threshold=limit, keep=keep, progress=progress)
        if report is not None:
            write_report(clusters, report, threshold=limit, keep=keep)
            err.print(f"report written to {report}")
        if json_out:
            print_json(
                [
                    {"keep": c.keep, "copies": c.copies, "members": [asdict(m) for m in c.members]}
                    for c in clusters
                ]
            )
        else:
            for n, c in enumerate(clusters, 1):
                out.print(f"cluster {n}: keep {c.keep}", markup=False)
                for m in c.members[1:]:
                    out.print(f"  copy {m.id} ({_evidence(m)})", markup=False)
        copies = [i for c in clusters for i in c.copies]
        err.print(f"{len(clusters)} clusters, {len(copies)} copies (threshold {limit:.2f})")
        if delete_copies and copies:
            if not yes and not sys.stdin.isatty():
                raise BadInput(
                    "--delete-copies asks for confirmation: add --yes when not interactive"
                )
            if yes or typer.confirm(f"Delete {len(copies)} copies?"):
                coll.delete(copies)
                err.print(f"deleted {len(copies)} copies")


def _evidence(m: Member) -> str:
    """Why a member is in its cluster: its score, and the inliers or hash distance behind it."""
    parts = [f"score {m.score:.3f}"]
    if m.inliers is not None:
        parts.append(f"{m.inliers} inliers")
    if m.hash_distance is not None:
        parts.append(f"hash {m.hash_distance} bits")
    if m.region is not None:
        left, top, right, bottom = m.region
        parts.append(f"region {left:.2f},{top:.2f}-{right:.2f},{bottom:.2f} of it")
    if m.linked_to is not None:
        parts.append(f"linked to {m.linked_to}")
    return ", ".join(parts)
