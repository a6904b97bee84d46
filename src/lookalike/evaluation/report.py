"""The HTML report of an evaluation: one self-contained file (plots and thumbnails inlined as
base64) that says what was run, with which versions and configurations, and what failed."""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from lookalike.errors import LookalikeError
from lookalike.evaluation.metrics import Hit, QueryResult
from lookalike.evaluation.plots import pr_curve_png, score_histogram_png
from lookalike.evaluation.results import EvalReport, VariantResult, instead
from lookalike.evaluation.table import comparison, threshold_advice
from lookalike.images import decode, encode_thumbnail

__all__ = ["ImageFor", "local_image", "render_html", "write_html"]

ImageFor = Callable[[str, "str | None"], "bytes | None"]
"""Given a record id (or query label) and its source, JPEG bytes of a thumbnail, or None."""

MAX_FAILED_SHOWN = 60
"""Failing queries shown with thumbnails per configuration (all are in the JSON output)."""
THUMB = 128


def local_image(_id: str, source: str | None) -> bytes | None:
    """A thumbnail of a local file; None for URLs and files no longer there (the report never
    fetches)."""
    if not source or "://" in source:
        return None
    path = Path(source)
    try:
        data = path.read_bytes()
        return encode_thumbnail(decode(data, name=str(path), min_side=THUMB).image, THUMB)
    except (OSError, LookalikeError, ValueError):
        return None


def write_html(
    report: EvalReport, path: str | os.PathLike[str], *, image_for: ImageFor = local_image
) -> Path:
    """Write the report to ``path`` (one file) and answer it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(report, image_for=image_for), encoding="utf-8")
    return out


def render_html(report: EvalReport, *, image_for: ImageFor = local_image) -> str:
    thumbs = _Thumbs(image_for)
    columns, rows = comparison(report)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>lookalike evaluation</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>lookalike evaluation</h1>",
        _run_facts(report),
        "<h2>Configurations side by side</h2>",
        _table(columns, rows),
    ]
    for v in report.variants:
        parts.append(_variant(v, thumbs))
    parts.append("<h2>Versions</h2>")
    parts.append(_table(["package", "version"], [[k, v] for k, v in report.versions.items()]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _run_facts(report: EvalReport) -> str:
    facts = [
        ("command", report.command or "(Python API)"),
        ("written", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("data", report.dataset),
        ("images", str(report.images)),
        ("groups", str(report.groups)),
        ("queries", str(report.queries)),
        ("protocol", report.protocol),
        ("seed", "none (no random choice)" if report.seed is None else str(report.seed)),
        ("ranked", "one hit per group" if report.rank_by == "group" else "every record"),
        ("top k", str(report.top_k)),
    ]
    if report.skipped:
        facts.append(("left out", f"{len(report.skipped)} unreadable inputs"))
    items = "".join(
        f"<dt>{html.escape(k)}</dt><dd><code>{html.escape(v)}</code></dd>"
        if k == "command"
        else f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>"
        for k, v in facts
    )
    return f"<dl class='facts'>{items}</dl>"


def _variant(v: VariantResult, thumbs: _Thumbs) -> str:
    name = html.escape(v.name)
    config = json.dumps({"collection": v.collection, **v.config, "search": v.search}, indent=2)
    parts = [
        f"<section><h2>{name}</h2>",
        f"<p class='advice'>{html.escape(threshold_advice(v))}.</p>",
    ]
    if v.threshold is not None:
        t = v.threshold
        parts.append(
            f"<p>At the configured threshold {t.threshold:.2f} ({html.escape(v.signal)}): "
            f"precision {100 * t.precision:.1f}%, recall {100 * t.recall:.1f}% "
            f"({t.true} true and {t.false} false matches).</p>"
        )
    hist = score_histogram_png(v.results, v.threshold.threshold if v.threshold else None)
    pr = pr_curve_png(v.results, v.for_precision)
    parts.append(
        "<div class='plots'>"
        f"<figure>{_img(hist, 'Scores of true and false matches')}"
        "<figcaption>Scores of true and false matches</figcaption></figure>"
        f"<figure>{_img(pr, 'Precision-recall curve')}"
        "<figcaption>Precision against recall as the threshold falls</figcaption></figure>"
        "</div>"
    )
    parts.append(
        f"<details><summary>Collection configuration</summary>"
        f"<pre>{html.escape(config)}</pre></details>"
    )
    failures = v.failures()
    failed = [r for g in failures for r in g.failed]
    thumbs.drawn = 0
    parts.append(f"<h3>Failing queries ({len(failed)} of {v.summary.queries})</h3>")
    if not failed:
        parts.append("<p>Every query had a right answer first.</p>")
    for g in failures:
        parts.append(
            f"<h4>group {html.escape(g.label)}: {len(g.failed)} of {g.queries} failed</h4>"
        )
        for r in g.failed:
            if not thumbs.budget():
                break
            parts.append(_failed_query(r, thumbs))
    if len(failed) > MAX_FAILED_SHOWN:
        parts.append(
            f"<p>{len(failed) - MAX_FAILED_SHOWN} more failing queries are in the JSON output.</p>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _failed_query(r: QueryResult, thumbs: _Thumbs) -> str:
    where = f"right answer at #{r.rank}" if r.rank else "right answer not returned"
    if r.error:
        where = f"query failed: {r.error}"
    cells = [_card(r.query, r.source, thumbs, f"query ({r.group})", "query")]
    for hit in instead(r):
        cells.append(_hit_card(hit, thumbs, "wrong"))
    right = next((h for h in r.hits if h.relevant), None)
    if right is not None:
        cells.append(_hit_card(right, thumbs, "right"))
    return f"<div class='row'>{''.join(cells)}<p class='where'>{html.escape(where)}</p></div>"


def _hit_card(hit: Hit, thumbs: _Thumbs, kind: str) -> str:
    label = f"{hit.group or '-'} · {hit.score:.3f}"
    return _card(hit.id, hit.source, thumbs, label, kind)


def _card(rid: str, source: str | None, thumbs: _Thumbs, label: str, kind: str) -> str:
    data = thumbs.get(rid, source)
    image = (
        _img(data, rid, mime="image/jpeg")
        if data
        else f"<div class='missing'>{html.escape(rid)}</div>"
    )
    return (
        f"<figure class='{kind}'>{image}<figcaption>{html.escape(rid)}<br>"
        f"{html.escape(label)}</figcaption></figure>"
    )


def _img(data: bytes, alt: str, mime: str = "image/png") -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:{mime};base64,{encoded}'>"


def _table(columns: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Thumbs:
    """Thumbnails made once per image, and a cap on the failing queries drawn."""

    def __init__(self, image_for: ImageFor) -> None:
        self.image_for = image_for
        self.cache: dict[str, bytes | None] = {}
        self.drawn = 0

    def get(self, rid: str, source: str | None) -> bytes | None:
        key = source or rid
        if key not in self.cache:
            self.cache[key] = self.image_for(rid, source)
        return self.cache[key]

    def budget(self) -> bool:
        self.drawn += 1
        return self.drawn <= MAX_FAILED_SHOWN


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b;max-width:1200px}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left}th{background:#f1f1f1}.facts{display:grid;grid-template-columns:max-content 1fr;
gap:.2rem 1rem}.facts dt{font-weight:600}.facts dd{margin:0}.advice{font-size:1.15rem;
font-weight:600}.plots{display:flex;flex-wrap:wrap;gap:1rem}.row{display:flex;gap:.6rem;
align-items:flex-start;flex-wrap:wrap;border-bottom:1px solid #eee;padding:.4rem 0}
.row figure{margin:0;width:136px;font-size:.75rem;word-break:break-all}
.row img{max-width:128px;max-height:128px;display:block}.query img{outline:3px solid #555}
.wrong img{outline:3px solid #c0392b}.right img{outline:3px solid #2471a3}
.missing{width:128px;height:96px;background:#eee;display:flex;align-items:center;
justify-content:center;font-size:.7rem;overflow:hidden}.where{align-self:center;color:#444}
"""
