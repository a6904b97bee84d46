"""Progress bars on stderr, so that stdout stays the command's answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
from rich.text import Text

from lookalike.cli.output import err
from lookalike.types import Progress as IngestProgress


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        indexed = task.fields.get("indexed", 0)
        elapsed = task.elapsed or 0.0
        rate = indexed / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:6.1f} img/s", style="progress.data.speed")


@contextmanager
def ingest_bar() -> Iterator[Callable[[IngestProgress], None]]:
    """A bar fed by an ingest's progress callback: phase, done/total, rate, time left."""
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
            bar.update(  # a total of 0: not known (a server's job, polled)
                task,
                total=p.total or None,
                completed=p.done,
                indexed=p.indexed,
                description=p.phase,
            )

        yield show
        bar.update(task, description="done")


@contextmanager
def count_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A bar fed by a ``(done, total)`` callback."""
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
