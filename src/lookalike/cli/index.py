"""``lookalike index``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from lookalike.cli.app import app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import (
    CollectionName,
    DataDir,
    JsonOut,
    OnUnsafeOption,
    PrecisionOption,
    ServerUrl,
)
from lookalike.cli.output import print_report
from lookalike.cli.progress import ingest_bar
from lookalike.errors import BadInput
from lookalike.types import IngestReport


def _no_empty_path(paths: list[str]) -> list[str]:
    """An empty argument (an unset shell variable) is refused before the collection is made,
    not taken for the current folder."""
    if any(not p for p in paths):
        raise typer.BadParameter("an empty path: give a folder, a file or a URL")
    return paths


@app.command()
def index(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Folders, image files, http(s) URLs, text files of URLs/paths, JSONL catalogs.",
            callback=_no_empty_path,
        ),
    ],
    collection: CollectionName = "default",
    signals: Annotated[
        str | None,
        typer.Option(
            help="Signals for a new collection, comma-separated: semantic, duplicate, faces, "
            "text, moderation, exif, objects."
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
        bool | None,
        typer.Option(
            "--thumbnails/--no-thumbnails",
            help="Keep a small JPEG of each image, for the web page (a new collection's "
            "option; default: the thumbnails setting, on).",
        ),
    ] = None,
    precision: PrecisionOption = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Decode and embed on Ray: local (a Ray instance started here for the run), "
            "auto, or a cluster address (host:port, ray://host:10001). Needs lookalike[ray].",
        ),
    ] = None,
    ray_workers: Annotated[
        int | None,
        typer.Option(
            "--ray-workers",
            min=1,
            help="Ray worker actors (default: as many as the cluster's CPUs, or GPUs, hold).",
        ),
    ] = None,
    ray_cpus_per_worker: Annotated[
        float,
        typer.Option("--ray-cpus-per-worker", min=0.1, help="CPUs each Ray worker is given."),
    ] = 1.0,
    ray_gpus_per_worker: Annotated[
        float,
        typer.Option(
            "--ray-gpus-per-worker",
            min=0.0,
            help="GPUs each Ray worker is given; its semantic model runs there (needs "
            "onnxruntime-gpu on the cluster).",
        ),
    ] = 0.0,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Index images into a collection (created if missing). Re-running skips unchanged images."""
    if ray is not None:
        from lookalike.distributed.cluster import check_address

        check_address(ray)  # a typo is refused before the collection is made
    with engine_for(data_dir, server) as engine:
        coll = engine.create_collection(
            collection,
            signals=signals,
            model=model,
            exist_ok=True,
            on_unsafe=on_unsafe,  # type: ignore[arg-type]  # checked by the engine
            thumbnails=thumbnails,
            precision=precision,  # type: ignore[arg-type]  # checked by the engine
        )
        index_with: Callable[..., IngestReport] = coll.index
        if ray is not None:
            from lookalike.engine import Collection

            if not isinstance(coll, Collection):
                raise BadInput("--ray indexes from this machine, not through a server")
            index_with = partial(
                coll.index,
                ray=ray,
                ray_workers=ray_workers,
                ray_cpus_per_worker=ray_cpus_per_worker,
                ray_gpus_per_worker=ray_gpus_per_worker,
            )
        with ingest_bar() as show:
            report = index_with(
                paths,
                metadata_file=metadata,
                group_by_folder=group_by_folder,
                prune=prune,
                on_duplicate=on_duplicate,  # checked by the engine
                progress=show,
            )
        print_report(report, json_out)
        if report.failed and not (report.indexed or report.skipped or report.updated):
            raise typer.Exit(2)
