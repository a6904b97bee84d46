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
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from tests.support.text_images import TextImage, text_set  # noqa: E402

from lookalike import Engine, Settings  # noqa: E402
from lookalike.images import decode  # noqa: E402
from lookalike.models.ocr import read_text  # noqa: E402
from lookalike.signals.text.keywords import tokenize  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--sides", default="320,480,640,800")
    parser.add_argument("--search", action="store_true")
    args = parser.parse_args()
    items = text_set(args.count)
    out: dict[str, Any] = {"sweep": sweep(items, [int(s) for s in args.sides.split(",") if s])}
    if args.search:
        out["search"] = search_recall(items)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
