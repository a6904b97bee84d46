"""The text signal: OCR cost and word recall per decode size, and keyword search recall.

Images: ``tests/support/text_images.text_set``: real photos enlarged to 1600 px (camera-sized
input), two known words on each, in 5 fonts, text height 3, 5 or 8 % of the shorter edge,
turned 0 to 25 degrees, outlined or on a label; saved as JPEG (quality 90) and decoded by
lookalike's own decoder at each ``min_side``, as ingest does. Plus scikit-image's ``page``, a
photographed book page whose words are known.

- OCR recall: the share of rendered words found as whole words in the OCR'd text (under the
  keyword rules of ``lookalike.signals.text.keywords``), overall and per text height.
- Cost: milliseconds per image for decode + OCR with one ONNX Runtime thread, as in a decode
  worker (wall clock and CPU time; the CPU time is the steadier figure on a shared machine).
- Search (``--search``): the set indexed through ``Collection.index`` with the text signal,
  then one ``Collection.search(text=word, signal="text")`` per rendered word and image: whether
  the top hit holds the word (words recur across images past 20 images), whether the image is
  among the top 5, the share of queries whose top hit matched the whole word, and queries per
  second.

    python benchmarks/ocr.py [--count 30] [--sides 320,480,640,800] [--search]

``--words``: the set of issue 17 instead: 60 photos of 1600 px width with one word each, in 10
font families (those of the system's DejaVu and Liberation packages, Roboto, Caladea and
Pillow's own), text height 14 to 72 px, on a label or outlined, turned -15 to 15 degrees. Each
reading of ``--readings`` (see ``READINGS``; the default first) indexes the set through
``Collection.index`` and searches each word with ``Collection.search(text=word,
signal="text")``: recall@1 (the top hit is the word's own photo; every word is on one photo
only) overall, per text height and per angle, and the OCR's cost per image (decode + read, one
ONNX Runtime thread, in this process).

    python benchmarks/ocr.py --words [--readings default,...]
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from tests.support.text_images import (  # noqa: E402
    BACKGROUNDS,
    WORDS,
    TextImage,
    background,
    render,
    text_set,
)

from lookalike import Engine, Settings  # noqa: E402
from lookalike.images import decode  # noqa: E402
from lookalike.models.ocr import read_text  # noqa: E402
from lookalike.signals.text import signal as text_signal  # noqa: E402
from lookalike.signals.text.keywords import tokenize  # noqa: E402
from lookalike.signals.text.signal import READING, Reading  # noqa: E402

#: The words of scikit-image's ``page`` photo, as printed on it.
PAGE_TEXT = """Region-based segmentation
Let us first determine markers of the coins and the
background. These markers are pixels that we can label
unambiguously as either object or background. Here,
the markers are found at the two extreme parts of the
histogram of grey values:
>>> markers = np.zeros_like(coins)"""


def _jpeg(item: TextImage) -> bytes:
    buf = io.BytesIO()
    item.image.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _page() -> bytes:
    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(np.asarray(data.page())).convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def sweep(items: list[TextImage], sides: list[int]) -> list[dict[str, Any]]:
    encoded = [_jpeg(i) for i in items]
    page = _page()
    page_words = set(tokenize(PAGE_TEXT))
    rows = []
    for side in sides:
        read_text(decode(encoded[0], min_side=side).image, detect_side=side, threads=1)  # warm
        found = total = 0
        by_size: dict[float, list[int]] = defaultdict(lambda: [0, 0])
        wall = cpu = 0.0
        for item, data in zip(items, encoded, strict=True):
            w0, c0 = time.perf_counter(), time.process_time()
            decoded = decode(data, min_side=side)
            lines = read_text(decoded.image, detect_side=side, threads=1)
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
            words = {w for line in lines for w in tokenize(line.text)}
            hits = sum(w in words for w in item.words)
            found += hits
            total += len(item.words)
            by_size[item.size][0] += hits
            by_size[item.size][1] += len(item.words)
        page_lines = read_text(decode(page, min_side=side).image, detect_side=side, threads=1)
        page_found = page_words & {w for line in page_lines for w in tokenize(line.text)}
        rows.append(
            {
                "min_side": side,
                "word_recall": round(found / total, 3),
                "recall_by_text_height": {
                    f"{int(s * 100)}%": round(f / t, 3) for s, (f, t) in sorted(by_size.items())
                },
                "page_word_recall": round(len(page_found) / len(page_words), 3),
                "ms_per_image_wall": round(1000 * wall / len(items), 1),
                "ms_per_image_cpu": round(1000 * cpu / len(items), 1),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def search_recall(items: list[TextImage]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for n, item in enumerate(items):
            (folder / f"{n:03d}.jpg").write_bytes(_jpeg(item))
        settings = Settings(data_dir=Path(tmp) / "data", offline=True)
        with Engine(settings) as engine:
            coll = engine.create_collection("text", signals="text")
            start = time.perf_counter()
            report = coll.index([folder])
            index_seconds = time.perf_counter() - start
            at1 = at5 = whole = queries = 0
            start = time.perf_counter()
            holding = {
                w: {f"{n:03d}.jpg" for n, i in enumerate(items) if w in i.words}
                for w in {w for i in items for w in i.words}
            }
            for n, item in enumerate(items):
                for word in item.words:
                    results = coll.search(text=word, signal="text", top_k=5)
                    ids = [r.id for r in results]
                    queries += 1
                    at1 += bool(ids) and ids[0] in holding[word]
                    at5 += f"{n:03d}.jpg" in ids
                    whole += bool(results) and results[0].score >= 0.999
            seconds = time.perf_counter() - start
    return {
        "images": len(items),
        "indexed": report.indexed,
        "index_images_per_second": round(report.indexed / index_seconds, 2),
        "queries": queries,
        "top_hit_holds_word": round(at1 / queries, 3),
        "recall_at_5": round(at5 / queries, 3),
        "top_hit_whole_word": round(whole / queries, 3),
        "queries_per_second": round(queries / seconds, 1),
    }


#: 20 more words, so that each of the 60 photos has its own (distinct in their first 4 letters).
MORE_WORDS = (
    "kettle", "lobster", "mirror", "napkin", "oyster", "pillow", "quarry", "ribbon", "saddle",
    "turtle", "velvet", "walnut", "button", "copper", "desert", "feather", "hammer", "jungle",
    "marble", "parrot",
)  # fmt: skip

_TT = Path("/usr/share/fonts/truetype")
#: Ten font families: seven from Debian's fonts-dejavu-core and fonts-liberation packages, and
#: the three of ``tests/support/text_images`` (Roboto, Caladea, Pillow's built-in Aileron).
WORD_FONTS: tuple[str | Path, ...] = (
    _TT / "dejavu/DejaVuSans.ttf",
    _TT / "dejavu/DejaVuSerif-Italic.ttf",
    _TT / "dejavu/DejaVuSansMono-Bold.ttf",
    _TT / "liberation/LiberationSans-Bold.ttf",
    _TT / "liberation/LiberationSerif-Regular.ttf",
    _TT / "liberation/LiberationMono-Regular.ttf",
    _TT / "liberation/LiberationSansNarrow-Regular.ttf",
    "roboto",
    "caladea-bold",
    "pillow-default",
)
HEIGHTS = (14, 18, 24, 32, 48, 72)
"""Text heights in pixels (the font's size) on photos 1600 px wide."""
ANGLES = (-15.0, -8.0, 0.0, 8.0, 15.0)

#: The readings ``--readings`` can compare (``default`` is the text signal's own).
READINGS = {
    "default": READING,
    "480": Reading(480, 480, None),
    "480-box0.3": Reading(480, 480, None, box_threshold=0.3),
    "960": Reading(960, 960, None),
    "1024-det960": Reading(1024, 480, 960),
    "1024-det960-box0.3": Reading(1024, 480, 960, box_threshold=0.3),
    "1024-det800-box0.3": Reading(1024, 480, 800, box_threshold=0.3),
    "1600-det960-box0.3": Reading(1600, 480, 960, box_threshold=0.3),
}


def word_set(count: int = 60, *, width: int = 1600) -> list[TextImage]:
    """The set of issue 17: one word per photo, every height crossed with every angle, a label
    on every other pair."""
    fonts = [f for f in WORD_FONTS if not isinstance(f, Path) or f.exists()]
    if len(fonts) < len(WORD_FONTS):
        print(f"only {len(fonts)} of {len(WORD_FONTS)} font families found", file=sys.stderr)
    words = WORDS + MORE_WORDS
    out = []
    for i in range(count):
        bg = background(BACKGROUNDS[(i + i // len(HEIGHTS)) % len(BACKGROUNDS)], width)
        height = HEIGHTS[i % len(HEIGHTS)]
        out.append(
            render(
                bg,
                (words[i % len(words)],),
                font=fonts[i % len(fonts)],
                size=height / min(bg.size),
                angle=ANGLES[(i * 7) % len(ANGLES)],
                style="label" if (i // 2) % 2 else "outline",
                seed=i,
            )
        )
    return out


def _band(rows: dict[Any, list[int]]) -> dict[str, str]:
    return {f"{k:g}": f"{f}/{t} = {f / t:.3f}" for k, (f, t) in sorted(rows.items())}


def word_search(items: list[TextImage], name: str, reading: Reading) -> dict[str, Any]:
    """Recall@1 of one-word searches on ``items`` indexed with ``reading``, and its cost."""
    encoded = [_jpeg(i) for i in items]
    # The OCR's cost, in this process with one thread (as in one decode worker).
    prepare = functools.partial(text_signal.prepare, reading=reading)
    timed = functools.partial(prepare, threads=1)
    timed(decode(encoded[0], min_side=reading.decode_side))  # warm
    wall = cpu = 0.0
    for data in encoded:
        w0, c0 = time.perf_counter(), time.process_time()
        timed(decode(data, min_side=reading.decode_side))
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
    # Search recall, through ingest's decode workers with this reading.
    text_signal.TextSignal.preparer = prepare  # type: ignore[assignment]
    text_signal.TextSignal.own_side = reading.decode_side
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "images"
            folder.mkdir()
            for n, data in enumerate(encoded):
                (folder / f"{n:03d}.jpg").write_bytes(data)
            settings = Settings(data_dir=Path(tmp) / "data", offline=True)
            with Engine(settings) as engine:
                coll = engine.create_collection("words", signals="text")
                coll.index([folder])
                at1 = 0
                by_height: dict[int, list[int]] = defaultdict(lambda: [0, 0])
                by_angle: dict[float, list[int]] = defaultdict(lambda: [0, 0])
                missed = []
                for n, item in enumerate(items):
                    (word,) = item.words
                    results = coll.search(text=word, signal="text", top_k=1)
                    hit = bool(results) and results[0].id == f"{n:03d}.jpg"
                    at1 += hit
                    height = round(item.size * min(item.image.size))
                    for rows, key in ((by_height, height), (by_angle, item.angle)):
                        rows[key][0] += hit
                        rows[key][1] += 1
                    if not hit:
                        read = coll.get(f"{n:03d}.jpg").get("ocr_text", "")
                        missed.append(f"{word} ({height} px, {item.angle:g} deg): read {read!r}")
    finally:
        text_signal.TextSignal.preparer = staticmethod(text_signal.prepare)  # type: ignore[assignment]
        text_signal.TextSignal.own_side = READING.decode_side
    row = {
        "reading": name,
        "decode_side": reading.decode_side,
        "detect_side": reading.detect_side,
        "detect_max_side": reading.detect_max_side,
        "box_threshold": reading.box_threshold,
        "recall_at_1": round(at1 / len(items), 3),
        "by_text_height_px": _band(by_height),
        "by_angle_degrees": _band(by_angle),
        "ocr_ms_per_image_wall": round(1000 * wall / len(items)),
        "ocr_ms_per_image_cpu": round(1000 * cpu / len(items)),
        "missed": missed,
    }
    print(json.dumps(row), file=sys.stderr)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--sides", default="320,480,640,800")
    parser.add_argument("--search", action="store_true")
    parser.add_argument("--words", action="store_true", help="the set of issue 17 (above)")
    parser.add_argument("--readings", default="default,480", help=", ".join(READINGS))
    args = parser.parse_args()
    if args.words:
        items = word_set()
        print(f"load average before: {os.getloadavg()}", file=sys.stderr)
        rows = [word_search(items, r, READINGS[r]) for r in args.readings.split(",") if r]
        print(f"load average after: {os.getloadavg()}", file=sys.stderr)
        print(json.dumps({"words": rows}, indent=2))
        return
    items = text_set(args.count)
    out: dict[str, Any] = {"sweep": sweep(items, [int(s) for s in args.sides.split(",") if s])}
    if args.search:
        out["search"] = search_recall(items)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
