"""How results look: JSON lines on stdout, tables for people, messages on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lookalike.errors import LookalikeError
from lookalike.types import IngestReport

err = Console(stderr=True)
out = Console(highlight=False)


def print_json(obj: Any) -> None:
    """One JSON document on one line of stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def query_error(label: str, exc: LookalikeError, json_out: bool, key: str = "query") -> None:
    """One failed query of several: a JSON error line (``key`` names the query as the
    command's result lines do), or one line on stderr."""
    if json_out:
        print_json({key: label, "error": exc.to_dict()})
    else:
        err.print(f"error: {label}: {exc.message}", markup=False, soft_wrap=True)


def print_report(report: IngestReport, json_out: bool) -> None:
    """An ingest report: JSON on stdout with ``--json``, the summary and problems on stderr."""
    if json_out:
        print_json(report.to_dict())
    copies = sum(d.action == "skip" for d in report.duplicates)  # counted in ``skipped`` too
    line = f"indexed {report.indexed}, skipped {report.skipped - copies} unchanged"
    if copies:
        line += f" and {copies} as duplicates"
    line += f", updated {report.updated}, failed {len(report.failed)}"
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


def print_table(columns: list[str], rows: list[list[str | Text]], title: str | None = None) -> None:
    """A table on a terminal; tab-separated lines, one per row, when stdout is piped, so that
    no row is wrapped or folded and ``cut``/``awk`` can read it."""
    if out.is_terminal:
        table = Table(title=title, title_justify="left")
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:  # plain text: ids and metadata are not Rich markup
            table.add_row(*(c if isinstance(c, Text) else Text(c) for c in row))
        out.print(table)
        return
    lines = [] if title is None else [title]
    lines += ["\t".join(columns)]
    lines += ["\t".join(_cell(c) for c in row) for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _cell(value: str | Text) -> str:
    """One field of a tab-separated line: no tab or line break inside it."""
    return " ".join(str(value).split()) if any(c in str(value) for c in "\t\r\n") else str(value)


def results_table(label: str, results: list[Any]) -> None:
    """The hits of one query as a table."""
    faces = any(r.match and "face" in r.match for r in results)
    lines = any(r.match and "lines" in r.match for r in results)
    columns = ["#", "score", "id", "group", "scores", *(["face"] if faces else []), "metadata"]
    if lines:
        columns.append("text")
    rows: list[list[str | Text]] = []
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
        rows.append(row)
    print_table(columns, rows, title=f"query: {label}")
    if not results:
        out.print("  no results", markup=False)


def _face_cell(match: dict[str, Any] | None) -> str:
    if not match or "face" not in match:
        return ""
    who = match.get("name") or (f"person {match['person']}" if match.get("person") else "")
    box = ",".join(f"{v:.2f}" for v in match.get("box") or [])
    return f"#{match['face']} [{box}] {who}".strip()
