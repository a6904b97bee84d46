"""The command line: parse, call one core method, format. No logic of its own."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from lookalike.config import Settings
from lookalike.engine import Collection, Engine
from lookalike.errors import BadInput, LookalikeError
from lookalike.ingest import IngestReport
from lookalike.ingest import Progress as IngestProgress
from lookalike.people import face_ref
from lookalike.sources import Item, iter_items

if TYPE_CHECKING:
    from lookalike.client import Client, RemoteCollection

app = typer.Typer(
    help="lookalike: self-hosted visual search. Index images, then search them by image, "
    "text or id.",
    no_args_is_help=True,
    add_completion=False,
)
collections_app = typer.Typer(help="List, create, show and drop collections.", no_args_is_help=True)
models_app = typer.Typer(
    help="Semantic models: list them, download one for offline use.", no_args_is_help=True
)
people_app = typer.Typer(
    help="People: group the faces of a collection, name, merge and split people.",
    no_args_is_help=True,
)
app.add_typer(collections_app, name="collections")
app.add_typer(models_app, name="models")
app.add_typer(people_app, name="people")

err = Console(stderr=True)
out = Console(highlight=False)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="LOOKALIKE_DATA_DIR",
        help="Where collections live (default: the platform's user data folder).",
    ),
]
CollectionName = Annotated[str, typer.Option("--collection", "-c", help="Collection to use.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
OnUnsafeOption = Annotated[
    str | None,
    typer.Option(
        "--on-unsafe",
        help="For a new collection with the moderation signal: allow, flag (list them in the "
        "report) or reject images found unsafe.",
    ),
]
ServerUrl = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Send the command to this lookalike server (default: LOOKALIKE_SERVER, or the "
        "server running on the data folder).",
    ),
]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("lookalike")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "unknown"
        out.print(f"lookalike {number}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            expose_value=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Options of ``lookalike`` itself (the help text is the app's)."""


def _engine(data_dir: Path | None, server: str | None = None) -> Engine | Client:
    """The local engine, or a client of the server named by --server / LOOKALIKE_SERVER or
    found running on the data folder (which then holds the store's lock)."""
    settings = Settings.load(data_dir=data_dir, server=server)
    url, found_by = settings.server, "--server / LOOKALIKE_SERVER"
    if url is None:
        from lookalike.api.serve import MARKER, read_marker

        marker = read_marker(settings.data_dir)
        if marker is None:
            return Engine(settings)
        url, found_by = str(marker["url"]), f"found in {settings.data_dir / MARKER}"
    from lookalike.client import Client

    err.print(f"through the server at {url} ({found_by})", style="dim", markup=False)
    key = settings.api_key or next(iter(settings.api_keys), None)
    return Client(url, api_key=key, max_image_bytes=settings.max_image_bytes)


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


# index ------------------------------------------------------------------------------------


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        indexed = task.fields.get("indexed", 0)
        elapsed = task.elapsed or 0.0
        rate = indexed / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:6.1f} img/s", style="progress.data.speed")


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
    with _engine(data_dir, server) as engine:
        coll = engine.create_collection(
            collection,
            signals=signals,
            model=model,
            exist_ok=True,
            on_unsafe=on_unsafe,  # type: ignore[arg-type]  # checked by the engine
            thumbnails=thumbnails,
        )
        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task("indexing", total=None, indexed=0)

            def show(p: IngestProgress) -> None:
                bar.update(
                    task, total=p.total, completed=p.done, indexed=p.indexed, description=p.phase
                )

            report = coll.index(
                paths,
                metadata_file=metadata,
                group_by_folder=group_by_folder,
                prune=prune,
                on_duplicate=on_duplicate,  # type: ignore[arg-type]  # checked by the engine
                progress=show,
            )
            bar.update(task, description="done")
        _report(report, json_out)
        if report.failed and not (report.indexed or report.skipped or report.updated):
            raise typer.Exit(2)


def _report(report: IngestReport, json_out: bool) -> None:
    if json_out:
        _print_json(report.to_dict())
    line = (
        f"indexed {report.indexed}, skipped {report.skipped} unchanged, "
        f"updated {report.updated}, failed {len(report.failed)}"
    )
    if report.pruned:
        line += f", pruned {report.pruned}"
    line += f" in {report.seconds:.1f}s ({report.rate:.1f} images/s)"
    if report.index_built:
        line += "; search index built"
    err.print(line)
    if report.ms_per_image:
        costs = ", ".join(f"{name} {ms:.1f}" for name, ms in report.ms_per_image.items())
        err.print(f"  ms per image: {costs}", markup=False)
    for u in report.unsafe[:50]:
        err.print(f"  unsafe: {u.source} (nsfw {u.nsfw:.3f})", markup=False, soft_wrap=True)
    for d in report.duplicates[:50]:
        err.print(
            f"  {d.action}: {d.source} copies {d.duplicate_of} ({d.score:.3f})",
            markup=False,
            soft_wrap=True,
        )
    for f in report.failed[:50]:
        err.print(f"  failed: {f.source}: {f.message}", markup=False, soft_wrap=True)
    if len(report.failed) > 50:
        err.print(f"  ... and {len(report.failed) - 50} more (use --json for all)")


# search -----------------------------------------------------------------------------------


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
    text: Annotated[str | None, typer.Option("--text", "-t", help="Text query.")] = None,
    id: Annotated[
        str | None,
        typer.Option("--id", help="Neighbours of an indexed record (the record itself excluded)."),
    ] = None,
    collection: CollectionName = "default",
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Results per query.")] = 10,
    threshold: Annotated[float | None, typer.Option(help="Minimum score, 0..1.")] = None,
    signal: Annotated[
        str | None, typer.Option(help="Signal to rank by: semantic, duplicate, faces or text.")
    ] = None,
    person: Annotated[
        str | None,
        typer.Option("--person", "-p", help="Every image of this person (name or id)."),
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
    """Search a collection by image, text or record id."""
    queries: list[tuple[str, dict[str, Any]]] = []
    for spec in _expand_images(image or []):
        queries.append((spec, {"image": spec}))
    if text is not None:
        queries.append((text, {"text": text}))
    if id is not None:
        queries.append((id, {"id": id}))
    if person is not None:
        queries.append((f"person {person}", {"person": person}))
    if not queries:
        raise BadInput("give --image, --text, --id or --person")
    faces: dict[str, Any] = {"face": face, "box": _box(box)}
    failed = 0
    with _engine(data_dir, server) as engine:
        coll = engine.collection(collection)
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
                    raise
                _query_error(label, exc, json_out)
                failed = max(failed, exc.exit_code)
                continue
            if json_out:
                _print_json({"query": label, "results": [r.to_dict() for r in results]})
            else:
                _results_table(label, results)
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


def _query_error(label: str, exc: LookalikeError, json_out: bool) -> None:
    if json_out:
        _print_json({"query": label, "error": exc.to_dict()})
    else:
        err.print(f"error: {label}: {exc.message}", markup=False, soft_wrap=True)


def _results_table(label: str, results: list[Any]) -> None:
    table = Table(title=f"query: {label}", title_justify="left")
    faces = any(r.match and "face" in r.match for r in results)
    for col in ("#", "score", "id", "group", "scores", *(["face"] if faces else []), "metadata"):
        table.add_column(col, overflow="fold")
    lines = any(r.match and "lines" in r.match for r in results)
    if lines:
        table.add_column("text", overflow="fold")
    for n, r in enumerate(results, 1):
        scores = " ".join(f"{k}={v:.3f}" for k, v in r.scores.items())
        face = [_face_cell(r.match)] if faces else []
        row: list[str | Text] = [
            str(n),
            f"{r.score:.3f}",
            r.id,
            r.group or "",
            scores,
            *face,
            json.dumps(r.metadata, ensure_ascii=False) if r.metadata else "",
        ]
        if lines:  # the lines of text that hold query words
            found = (r.match or {}).get("lines", [])
            row.append(Text(" | ".join(line["text"] for line in found)))  # OCR text: no markup
        table.add_row(*row)
    out.print(table)
    if not results:
        out.print("  no results")


def _face_cell(match: dict[str, Any] | None) -> str:
    if not match or "face" not in match:
        return ""
    who = match.get("name") or (f"person {match['person']}" if match.get("person") else "")
    box = ",".join(f"{v:.2f}" for v in match.get("box") or [])
    return f"#{match['face']} [{box}] {who}".strip()


# duplicates -------------------------------------------------------------------------------


@app.command()
def duplicates(
    collection: CollectionName = "default",
    threshold: Annotated[
        float | None, typer.Option(help="Score from which two images are copies (0..1).")
    ] = None,
    keep: Annotated[
        str,
        typer.Option(help="Which to keep: largest, least-compressed, oldest, or FIELD:min|max."),
    ] = "largest",
    report: Annotated[
        Path | None, typer.Option(help="Write the clusters to this file (.json or .csv).")
    ] = None,
    delete_copies: Annotated[
        bool, typer.Option("--delete-copies", help="Delete every copy (asks first).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Group near-duplicates across a collection and say which image of each group to keep."""
    from lookalike.duplicates import write_report

    with _engine(data_dir, server) as engine:
        coll = engine.collection(collection)
        limit = coll.copy_threshold if threshold is None else threshold
        with Progress(
            TextColumn("[bold]grouping"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as bar:
            task = bar.add_task("grouping", total=None)
            clusters = coll.duplicates(
                threshold=limit,
                keep=keep,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        if report is not None:
            write_report(clusters, report, threshold=limit, keep=keep)
            err.print(f"report written to {report}")
        if json_out:
            _print_json([{"keep": c.keep, "copies": c.copies} for c in clusters])
        else:
            for n, c in enumerate(clusters, 1):
                out.print(f"cluster {n}: keep {c.keep}", markup=False)
                for m in c.members[1:]:
                    out.print(f"  copy {m.id} (score {m.score:.3f})", markup=False)
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


# moderate ---------------------------------------------------------------------------------


@app.command()
def moderate(
    images: Annotated[list[str], typer.Argument(help="Image paths or URLs.")],
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection", "-c", help="Check as indexing into this collection would (optional)."
        ),
    ] = None,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Check images with the moderation signal without indexing them; exits 1 if one is unsafe."""
    unsafe = failed = 0
    with _engine(data_dir, server) as engine:
        check = engine.collection(collection).moderate if collection else engine.moderate
        for image in images:
            try:
                verdict = check(image)
            except LookalikeError as exc:
                if len(images) == 1:
                    raise
                _query_error(image, exc, json_out)
                failed = max(failed, exc.exit_code)
                continue
            unsafe += not verdict["safe"]
            if json_out:
                _print_json({"image": image, **verdict})
            else:
                labels = " ".join(f"{d['label']}={d['score']:.2f}" for d in verdict["labels"])
                state = "safe" if verdict["safe"] else "UNSAFE"
                out.print(f"{state}\tnsfw={verdict['nsfw']:.3f}\t{image}\t{labels}", markup=False)
    if failed or unsafe:
        raise typer.Exit(failed or 1)


# records ----------------------------------------------------------------------------------


@app.command()
def get(
    record_id: Annotated[str, typer.Argument(help="Record id.")],
    collection: CollectionName = "default",
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Show one record as JSON."""
    with _engine(data_dir, server) as engine:
        _print_json(engine.collection(collection).get(record_id))


@app.command()
def delete(
    record_ids: Annotated[list[str], typer.Argument(help="Record ids.")],
    collection: CollectionName = "default",
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Delete records; exits 3 if any id was not found."""
    with _engine(data_dir, server) as engine:
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
    with _engine(data_dir, server) as engine:
        _print_json(
            engine.collection(collection).update(
                record_id, metadata=parsed, group=group, merge=merge
            )
        )


# collections ------------------------------------------------------------------------------


@collections_app.command("list")
def collections_list(
    json_out: JsonOut = False, data_dir: DataDir = None, server: ServerUrl = None
) -> None:
    """List collections."""
    with _engine(data_dir, server) as engine:
        names = engine.list_collections()
    if json_out:
        _print_json(names)
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
        bool, typer.Option("--thumbnails", help="Keep a small JPEG of each image.")
    ] = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Create an empty collection."""
    with _engine(data_dir, server) as engine:
        coll = engine.create_collection(
            name,
            signals=signals,
            model=model,
            on_unsafe=on_unsafe,  # type: ignore[arg-type]  # checked by the engine
            thumbnails=thumbnails,
        )
        _print_json(_show(coll))


@collections_app.command("show")
def collections_show(name: str, data_dir: DataDir = None, server: ServerUrl = None) -> None:
    """Counts and configuration of a collection."""
    with _engine(data_dir, server) as engine:
        _print_json(_show(engine.collection(name)))


@collections_app.command("drop")
def collections_drop(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Delete a collection and everything in it."""
    if not yes and not sys.stdin.isatty():
        raise BadInput("collections drop asks for confirmation: add --yes when not interactive")
    if not yes and not typer.confirm(f"Drop collection {name!r} and all its records?"):
        raise typer.Exit(1)
    with _engine(data_dir, server) as engine:
        engine.drop_collection(name)
    err.print(f"dropped {name}")


def _show(coll: Collection | RemoteCollection) -> dict[str, Any]:
    return coll.info()


# people -----------------------------------------------------------------------------------


@people_app.command("list")
def people_list(
    collection: CollectionName = "default",
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """The people grouped so far, most faces first."""
    with _engine(data_dir, server) as engine:
        people = engine.collection(collection).people()
    if json_out:
        _print_json([p.to_dict() for p in people])
        return
    table = Table()
    for col in ("id", "name", "faces", "records", "sample"):
        table.add_column(col, overflow="fold")
    for p in people:
        table.add_row(str(p.id), p.name or "", str(p.faces), str(p.records), " ".join(p.sample))
    out.print(table)
    if not people:
        out.print("  no people yet: run `lookalike people cluster`")


@people_app.command("cluster")
def people_cluster(
    full: Annotated[
        bool, typer.Option("--full", help="Regroup every face, not only the new ones.")
    ] = False,
    collection: CollectionName = "default",
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Group faces into people; new faces join the people found before."""
    with _engine(data_dir, server) as engine:
        report = engine.collection(collection).cluster_people(full=full)
    if json_out:
        _print_json(report.to_dict())
    err.print(
        f"{report.faces} faces grouped: {report.joined} joined known people, "
        f"{report.new_people} new people; {report.people} people in {report.seconds:.1f}s"
    )


@people_app.command("name")
def people_name(
    person: Annotated[str, typer.Argument(help="Person id or current name.")],
    name: Annotated[str, typer.Argument(help='New name ("" removes it).')],
    collection: CollectionName = "default",
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Name a person."""
    with _engine(data_dir, server) as engine:
        pid = engine.collection(collection).name_person(person, name or None)
    err.print(f"person {pid}: {name or 'name removed'}", markup=False)


@people_app.command("merge")
def people_merge(
    persons: Annotated[list[str], typer.Argument(help="Two or more person ids or names.")],
    into: Annotated[
        str | None, typer.Option(help="The person they become (default: the first given).")
    ] = None,
    collection: CollectionName = "default",
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Make several people one person."""
    with _engine(data_dir, server) as engine:
        pid = engine.collection(collection).merge_people(persons, into=into)
    err.print(f"merged into person {pid}")


@people_app.command("split")
def people_split(
    person: Annotated[str, typer.Argument(help="Person id or name.")],
    records: Annotated[
        list[str],
        typer.Argument(
            help="Records whose faces of this person move to a new person; "
            "RECORD#N moves only face N of that record."
        ),
    ],
    collection: CollectionName = "default",
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Move some faces of a person to a new person."""
    faces = [face_ref(spec) for spec in records]
    with _engine(data_dir, server) as engine:
        pid = engine.collection(collection).split_person(person, faces)
    err.print(f"split off as person {pid}")


# models -----------------------------------------------------------------------------------


@models_app.command("list")
def models_list() -> None:
    """Known semantic models."""
    from lookalike.models.specs import MODELS

    for spec in MODELS.values():
        scores = "calibrated" if spec.calibrated else "raw cosine (range not measured)"
        out.print(f"{spec.name}\t{spec.dim}-d\t{spec.vision}\t{scores}\t{spec.description}")


@models_app.command("download")
def models_download(name: str, data_dir: DataDir = None) -> None:
    """Download a model's files into the model folder, for offline use elsewhere."""
    from lookalike.models.clip import download_model

    folder = download_model(name, Settings.load(data_dir=data_dir))
    err.print(f"downloaded {name} to {folder}")


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    allow_unauthenticated: Annotated[
        bool,
        typer.Option(
            "--allow-unauthenticated",
            help="Listen beyond localhost although no API keys are configured.",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Serve the REST API, the compatibility routes and the web page from one process."""
    from lookalike.api.serve import check_bind, run

    settings = Settings.load(data_dir=data_dir, host=host, port=port)
    for note in check_bind(settings, allow_unauthenticated=allow_unauthenticated):
        err.print(note, markup=False)
    run(settings, announce=lambda line: err.print(line, markup=False, soft_wrap=True))


def _show_usage_error(exc: typer.TyperException) -> None:
    show = getattr(exc, "show", None)
    if callable(show):  # the usage line, the hint to --help, then the error
        show()
    else:
        err.print(f"Error: {exc.format_message()}", markup=False, soft_wrap=True)


def main() -> None:
    """The ``lookalike`` command: usage errors exit 2 with the usage line, core errors exit with
    their code in one line, Ctrl-C exits 130."""
    try:
        # Without standalone mode, Typer returns the exit code of typer.Exit and of Ctrl-C (130).
        code = app(standalone_mode=False)
    except LookalikeError as exc:
        err.print(f"error: {exc.message}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        code = 130
    except typer.TyperException as exc:
        # Typer's own (bundled) click raises these: usage errors, bad parameters, no arguments.
        _show_usage_error(exc)
        sys.exit(exc.exit_code)
    if code == 130:
        err.print("interrupted: everything reported as indexed is kept; rerun to resume")
    sys.exit(code if isinstance(code, int) else 0)
