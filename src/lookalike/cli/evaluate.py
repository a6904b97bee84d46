"""``lookalike eval``: measure search quality on a labelled set or an existing collection."""

from __future__ import annotations

import inspect
import json
import random
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from lookalike.cli.app import app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import DataDir, JsonOut, output_file
from lookalike.cli.output import err, out, print_json, print_table
from lookalike.config import Settings
from lookalike.errors import BadInput

if TYPE_CHECKING:
    from lookalike.engine import Collection
    from lookalike.evaluation import EvalReport, Variant


@app.command(name="eval")
def evaluate(
    data: Annotated[
        Path | None,
        typer.Argument(
            help="Labelled set: a folder with one subfolder per group (product, class, "
            "person), or a JSONL catalog with a group per line. Omit with --collection."
        ),
    ] = None,
    collection: Annotated[
        list[str] | None,
        typer.Option(
            "--collection",
            "-c",
            help="Evaluate this existing collection (by its records' groups, or --queries). "
            "Repeatable: compared side by side.",
        ),
    ] = None,
    queries: Annotated[
        Path | None,
        typer.Option(
            "--queries",
            help="With --collection: JSON lines of {id or image, expected: [ids] or group}.",
        ),
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option(
            help="first (the first image of each group is the query, the rest the catalog), "
            "leave-one-out, or split (a seeded share of each group). Default: first for a "
            "labelled set, leave-one-out for a collection."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the split protocol (default: drawn, printed).")
    ] = None,
    query_fraction: Annotated[
        float, typer.Option("--query-fraction", help="Share of each group queried by split.")
    ] = 0.2,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Results per query.")] = 10,
    rank_by: Annotated[
        str | None,
        typer.Option(
            "--rank-by",
            help="group (one hit per group, right if it is the query's) or record (every "
            "record ranked; gives recall@k). Default: group, or record for expected ids.",
        ),
    ] = None,
    signals: Annotated[
        str | None,
        typer.Option(help="Signals of the collections built from a labelled set."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="Semantic model to evaluate. Repeatable: one column each."),
    ] = None,
    signal: Annotated[
        list[str] | None,
        typer.Option("--signal", help="Signal to rank by. Repeatable: one configuration each."),
    ] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            help="A configuration as KEY=VALUE,...: name, options of a new collection "
            "(signals, model, ...) and of search (signal, ...), e.g. "
            "'name=copies,signals=semantic,duplicate,signal=duplicate'. Repeatable.",
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Score threshold to report precision/recall at (default: the signal's "
            "configured one for duplicate and faces)."
        ),
    ] = None,
    precision: Annotated[
        list[str] | None,
        typer.Option(
            "--precision",
            help="Model precision of the collections built (fp32, int8). Repeatable: one "
            "configuration each.",
        ),
    ] = None,
    target_precision: Annotated[
        float,
        typer.Option(
            "--target-precision", help="Precision the suggested threshold must reach, 0..1."
        ),
    ] = 0.99,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write the HTML report to this file.", callback=output_file),
    ] = None,
    failures: Annotated[
        int, typer.Option("--failures", help="Groups with failures listed per configuration.")
    ] = 10,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir",
            help="Where the collections built from a labelled set and the per-query state "
            "live (kept: a rerun resumes). Default: the user cache folder.",
        ),
    ] = None,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
) -> None:
    """Measure search quality: top-1/top-3/top-k accuracy, recall@k, mAP, MRR, thresholds,
    failing queries; several configurations side by side; resumable."""
    if (data is None) == (not collection):
        raise BadInput("give a labelled set (folder or JSONL) or --collection, not both")
    if queries is not None and not collection:
        raise BadInput("--queries goes with --collection")
    if collection and (model or precision):
        raise BadInput("--model and --precision make new collections: give a labelled set")
    if report is not None:
        from lookalike.evaluation.plots import require_plots

        require_plots()  # not after the whole run
    work = work_dir or _default_work_dir()
    if seed is None and (protocol or "") == "split":
        seed = random.SystemRandom().randrange(2**31)
    options: dict[str, Any] = {
        "top_k": top_k,
        "seed": seed,
        "query_fraction": query_fraction,
        "threshold": threshold,
        "target_precision": target_precision,
    }
    with _bars(not json_out) as progress:
        if data is not None:
            result = _on_dataset(
                data,
                work,
                signals,
                _choices(model, precision, signal),
                variant,
                protocol,
                rank_by,
                options,
                progress,
            )
        else:
            result = _on_collections(
                collection or [],
                queries,
                data_dir,
                work,
                signal,
                variant,
                protocol,
                rank_by,
                options,
                progress,
            )
    result.command = "lookalike " + shlex.join(sys.argv[1:])
    if report is not None:
        from lookalike.evaluation.report import write_html

        write_html(result, report)
    _show(result, json_out, failures)
    if report is not None:
        err.print(f"report written to {report}", markup=False, soft_wrap=True)


def _default_work_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("lookalike", appauthor=False)) / "eval"


def _on_dataset(
    data: Path,
    work: Path,
    signals: str | None,
    choices: dict[str, list[str]],
    specs: list[str] | None,
    protocol: str | None,
    rank_by: str | None,
    options: dict[str, Any],
    progress: Callable[[str, int, int], None] | None,
) -> EvalReport:
    settings = Settings.load(data_dir=work / "collections", store="edge")
    variants = _variants(signals, choices, specs)
    from lookalike.evaluation import evaluate_dataset, load_dataset

    items, skipped = load_dataset(data, max_bytes=settings.max_image_bytes)
    for e in skipped[:20]:
        err.print(f"  left out: {e.source}: {e.error.message}", markup=False, soft_wrap=True)
    from lookalike.engine import Engine

    with Engine(settings) as engine:
        return evaluate_dataset(
            engine,
            items,
            variants,
            protocol=protocol or "first",
            rank_by=rank_by or "group",
            dataset=str(data),
            skipped=skipped,
            state_dir=work / "state",
            progress=progress,
            **options,
        )


def _on_collections(
    names: list[str],
    queries_file: Path | None,
    data_dir: Path | None,
    work: Path,
    signal_names: list[str] | None,
    specs: list[str] | None,
    protocol: str | None,
    rank_by: str | None,
    options: dict[str, Any],
    progress: Callable[[str, int, int], None] | None,
) -> EvalReport:
    from lookalike.evaluation import load_queries
    from lookalike.evaluation.run import evaluate_collection

    queries = load_queries(queries_file) if queries_file is not None else None
    searches: list[dict[str, Any]] = [{"signal": s} for s in signal_names or []]
    if not searches and not specs:
        searches = [{}]
    for spec in specs or []:
        name, create, search = _parse_variant(spec)
        if create:
            raise BadInput(f"--variant {spec!r}: an existing collection is not created anew")
        searches.append({**search, "name": name})
    from lookalike.engine import Engine

    engine = engine_for(data_dir, None)
    if not isinstance(engine, Engine):
        engine.close()
        raise BadInput(
            "a lookalike server holds this data folder: evaluate through it "
            "(POST /collections/NAME/eval), or stop it"
        )
    reports = []
    with engine:
        for name in names:
            coll: Collection = engine.collection(name)
            for search in searches:
                search = dict(search)
                label = str(search.pop("name", "") or _label(name, search, len(searches) > 1))
                tick = None
                if progress is not None:
                    tick = _phase_tick(progress, f"query {label}")
                reports.append(
                    evaluate_collection(
                        coll,
                        queries=queries,
                        protocol=protocol or "leave-one-out",
                        rank_by=rank_by,
                        search=search,
                        name=label,
                        state_file=work / "state" / f"{_slug(name)}-{_slug(label)}.jsonl",
                        progress=tick,
                        **options,
                    )
                )
    merged = reports[0]
    merged.variants = [r.variants[0] for r in reports]
    if len(names) > 1:
        merged.dataset = "collections " + ", ".join(names)
    return merged


def _phase_tick(
    progress: Callable[[str, int, int], None], phase: str
) -> Callable[[int, int], None]:
    return lambda done, total: progress(phase, done, total)


def _label(collection: str, search: dict[str, Any], several: bool) -> str:
    extra = ",".join(f"{k}={v}" for k, v in search.items())
    return f"{collection} {extra}" if several and extra else collection


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:64]


# configurations -----------------------------------------------------------------------------


def _choices(
    models: list[str] | None, precisions: list[str] | None, signal_names: list[str] | None
) -> dict[str, list[str]]:
    """The repeatable options that multiply into configurations, by the key each sets."""
    given = {"model": models, "precision": precisions, "signal": signal_names}
    return {key: values for key, values in given.items() if values}


def _variants(
    signals: str | None, choices: dict[str, list[str]], specs: list[str] | None
) -> list[Variant]:
    """Every combination of --model, --precision and --signal (named by what differs), then
    each --variant."""
    from lookalike.evaluation import Variant

    base: dict[str, Any] = {} if signals is None else {"signals": signals}
    variants = []
    if choices or not specs:
        combos: list[dict[str, str]] = [{}]
        for key, values in choices.items():
            combos = [{**c, key: v} for c in combos for v in values]
        for combo in combos:
            create = {**base, **{k: v for k, v in combo.items() if k != "signal"}}
            search = {"signal": combo["signal"]} if "signal" in combo else {}
            shown = [f"{k}={v}" for k, v in combo.items() if len(choices[k]) > 1 or k == "signal"]
            variants.append(Variant(" ".join(shown) or "default", create, search))
    for spec in specs or []:
        name, create, search = _parse_variant(spec)
        variants.append(Variant(name or spec, {**base, **create}, search))
    return variants


_SET_BY_EVAL = {"image", "text", "id", "vector", "person", "top_k", "group", "filter"}
"""Search options each query of an evaluation sets itself."""


def _parse_variant(spec: str) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """``KEY=VALUE,...`` (a part without ``=`` continues the value before it, so
    ``signals=semantic,duplicate`` keeps its comma): its name, collection and search options."""
    pairs: dict[str, str] = {}
    last: str | None = None
    for part in spec.split(","):
        key, eq, value = part.partition("=")
        if eq:
            last = key.strip()
            pairs[last] = value.strip()
        elif last is not None:
            pairs[last] += "," + part.strip()
        else:
            raise BadInput(f"--variant {spec!r}: want KEY=VALUE,... (e.g. signal=duplicate)")
    from lookalike.engine import Collection, Engine

    creates = set(inspect.signature(Engine.create_collection).parameters) - {"self", "name"}
    searches = set(inspect.signature(Collection.search).parameters) - {"self"} - _SET_BY_EVAL
    name = pairs.pop("name", None)
    create: dict[str, Any] = {}
    search: dict[str, Any] = {}
    for key, value in pairs.items():
        if key in creates:
            create[key] = _value(value)
        elif key in searches:
            search[key] = _value(value)
        else:
            known = ", ".join(sorted((creates | searches | {"name"}) - {"exist_ok"}))
            raise BadInput(f"--variant {spec!r}: unknown key {key!r} (known: {known})")
    return name, create, search


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


# output -------------------------------------------------------------------------------------


@contextmanager
def _bars(show: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """One bar per phase (indexing, then querying, per configuration) on stderr, shown from
    the first tick: an error before any work stays one line."""
    if not show:
        yield None
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )
    tasks: dict[str, Any] = {}

    def tick(phase: str, done: int, total: int) -> None:
        if not tasks:
            bar.start()
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    try:
        yield tick
    finally:
        if tasks:
            bar.stop()


def _show(report: EvalReport, json_out: bool, failures: int) -> None:
    if json_out:
        print_json(report.to_dict())
        return
    seed = "" if report.seed is None else f", seed {report.seed}"
    title = (
        f"{report.dataset}: {report.images} images, {report.groups} groups, "
        f"{report.queries} queries; protocol {report.protocol}{seed}; "
        f"ranked by {report.rank_by}, top {report.top_k}"
    )
    from lookalike.evaluation.table import (
        FAILURE_COLUMNS,
        comparison,
        failure_rows,
        threshold_advice,
    )

    columns, rows = comparison(report)
    print_table(columns, _cells(rows), title=title)
    for v in report.variants:
        if v.resumed:
            err.print(f"{v.name}: {v.resumed} queries resumed from the last run", markup=False)
        out.print(f"{v.name}: {threshold_advice(v)}", markup=False, soft_wrap=True)
        rows_failed = failure_rows(v.failures(), failures)
        if rows_failed:
            print_table(
                FAILURE_COLUMNS,
                _cells(rows_failed),
                title=f"{v.name}: failures by group",
            )
    if report.skipped:
        err.print(f"{len(report.skipped)} inputs could not be read and were left out")


def _cells(rows: list[list[str]]) -> list[list[str | Text]]:
    return [list[str | Text](row) for row in rows]
