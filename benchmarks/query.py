"""Query latency: the seed-003 query path in process against ``lookalike serve`` over REST.

Both sides use the same random-weight CLIP ViT-B/32 (``tests/support/clip_torch.py``, the ingest
benchmark's, with its text tower exported too), the same photos
and the same 1600 px JPEG queries, in one run, query after query alternately (so the machine's
noise falls on both). The seed-003 path is the guide's ``search_similar_images``: open the file,
``CLIPProcessor``, ``CLIPModel.get_image_features``, FAISS ``IndexFlatIP``, top 10. lookalike is a
real server process on localhost (collection with the default signals, semantic + duplicate), asked
through plain HTTP, top 10:

- image, semantic signal: base64 in a JSON body, and a multipart upload;
- image, duplicate signal (copy search): the same two ways;
- by id (semantic, duplicate), by text (a repeated text: cached; a new text each time, a long
  one and one of a few words).

Each line prints p50 and p99 of the end-to-end latency, its ratio to the seed path's p50, and
the server's ``Server-Timing`` stages (median ms): ``http`` is what the client waited beyond the
server's own work (transfer, JSON, routing); then base64, decode, embed (models and keypoints),
store, queue, verify.

    python benchmarks/query.py [--images 48] [--queries 40] [--side 1600] [--precision int8]
    python benchmarks/query.py --signals semantic  # a collection without the copy signal
    python benchmarks/query.py --made-before  # a collection made before the semantic input
    python benchmarks/query.py --concurrency 4    # and 4 clients at once, batching on and off
"""

from __future__ import annotations

import argparse
import base64
import functools
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageEnhance  # noqa: E402
from tests.support.clip_torch import build_reference_clip, export_text_tower  # noqa: E402
from tests.support.samples import PHOTO_NAMES, photo  # noqa: E402
from tests.support.server_process import server_process  # noqa: E402

from lookalike import Engine, Settings  # noqa: E402

STAGES = ("base64", "decode", "embed", "store", "queue", "verify")
FEW_WORDS = (" ".join(words) for words in itertools.product(*[("the", "dog", "cat", "and")] * 5))
"""Short query texts, each new, of five words: 7 tokens, as many as CLIP's tokenizer makes of
"2 dogs on a beach". The test tokenizer has few merges (it makes 13 of that text), so the words
are among the few it keeps whole, and the text tower runs on as many tokens as it would for such
a query. The "new each time" line's text has 26 tokens with CLIP's tokenizer (35 with this)."""


class SeedPipeline:
    """The guide's ``ImageEmbedder`` + ``ImageVectorDB``: one image at a time, exact search.
    (transformers 5 returns the features as a model output whose ``pooler_output`` is the tensor
    the guide's ``.numpy()`` took.)"""

    def __init__(self, hf: Path) -> None:
        import faiss
        from transformers import CLIPModel, CLIPProcessor

        self.model = CLIPModel.from_pretrained(hf).eval()
        self.processor = CLIPProcessor.from_pretrained(hf)
        self.index = faiss.IndexFlatIP(self.model.config.projection_dim)
        self.paths: list[str] = []

    def embed_image(self, image_path: Path) -> np.ndarray:
        import torch

        image = Image.open(image_path).convert("RGB")
        inputs = self.processor(images=image, return_tensors="pt")
        with torch.no_grad():
            features = self.model.get_image_features(**inputs)
        features = getattr(features, "pooler_output", features)
        embedding = features.numpy().flatten()
        unit: np.ndarray = embedding / np.linalg.norm(embedding)
        return unit

    def add_image(self, image_path: Path, embedding: np.ndarray) -> None:
        self.index.add(embedding.reshape(1, -1).astype("float32"))
        self.paths.append(str(image_path))

    def search_similar_images(self, query_image_path: Path, k: int = 10) -> list[Any]:
        query = self.embed_image(query_image_path)
        similarities, indices = self.index.search(query.reshape(1, -1).astype("float32"), k)
        return [
            {"image_path": self.paths[i], "similarity": float(similarities[0][n])}
            for n, i in enumerate(indices[0])
            if i != -1
        ]


def make_photos(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """``count`` JPEGs of ``size``: scikit-image's sample photos upscaled, each a little brighter
    than the last, so that no two are the same image."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"photo-{i:04d}.jpg"
        if not path.exists():
            base = photo(PHOTO_NAMES[i % len(PHOTO_NAMES)]).resize(size, Image.Resampling.BICUBIC)
            base = ImageEnhance.Brightness(base).enhance(0.7 + 0.6 * (i / max(1, count - 1)))
            base.save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def server_stages(header: str) -> dict[str, float]:
    out = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            out[name] = float(dur)
    return out


class Line:
    """One kind of query: its latencies (ms) and its server stages."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ms: list[float] = []
        self.stages: list[dict[str, float]] = []

    def add(self, ms: float, stages: dict[str, float]) -> None:
        self.ms.append(ms)
        self.stages.append(stages)

    def stage(self, name: str) -> float:
        return statistics.median(s.get(name, 0.0) for s in self.stages) if self.stages else 0.0


def timed_request(client: httpx.Client, line: Line, send: Callable[[], httpx.Response]) -> None:
    start = time.perf_counter()
    r = send()
    ms = 1000 * (time.perf_counter() - start)
    r.raise_for_status()
    results = r.json()["results"]
    assert len(results) == 10, r.text[:300]
    stages = server_stages(r.headers.get("server-timing", ""))
    stages["http"] = ms - stages.get("search", 0.0) - stages.get("base64", 0.0)
    line.add(ms, stages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48, help="photos in the collection")
    parser.add_argument("--queries", type=int, default=40, help="queries of each kind")
    parser.add_argument("--side", type=int, default=1600, help="longer side of the JPEGs")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench-data" / "ingest")
    parser.add_argument("--precision", default=None, help="the collection's, if not fp32")
    parser.add_argument(
        "--signals",
        default=None,
        help="the collection's signals, comma-separated (default: the default signals); "
        "without duplicate, the copy lines are left out",
    )
    parser.add_argument(
        "--made-before",
        action="store_true",
        help="a collection as lookalike made them before the semantic input was recorded: "
        "its tower input resized from the copy signal's 512 px image",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="also send this many semantic uploads at once, with query batching on and off",
    )
    args = parser.parse_args()
    if args.images < 11:
        parser.error("--images: at least 11, so that every query (an id leaves itself out) has 10")
    clip = build_reference_clip(args.cache / "clip-vit-b32-random")
    export_text_tower(clip)
    size = (args.side, args.side * 2 // 3)
    paths = make_photos(args.cache / f"photos-{size[0]}x{size[1]}", args.images, size)
    queries = [paths[i % len(paths)] for i in range(args.queries)]
    print(
        f"{len(paths)} photos of {size[0]}x{size[1]} (JPEG), {args.queries} queries of each "
        f"kind, top 10; signals {args.signals or 'default'}; load average "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )

    seed = SeedPipeline(clip.hf)
    for path in paths:
        seed.add_image(path, seed.embed_image(path))

    copies = args.signals is None or "duplicate" in args.signals.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        settings = Settings(data_dir=data, offline=True)
        options: dict[str, Any] = {"model": str(clip.onnx)}
        if args.precision:
            options["precision"] = args.precision
        if args.signals:
            options["signals"] = args.signals
        with Engine(settings) as engine:
            made = engine.create_collection("bench", **options)
            if args.made_before:
                made.store.update_config({"semantic_input": "shared"})
        with Engine(settings) as engine:  # opened again, as it was made
            report = engine.collection("bench").index(paths)
            assert report.indexed == len(paths), report
        env = {
            **os.environ,
            "LOOKALIKE_DATA_DIR": str(data),
            "LOOKALIKE_OFFLINE": "1",
            "PYTHONPATH": str(ROOT / "src"),
        }
        with (
            server_process(env, Path(tmp) / "server.log") as server,
            httpx.Client(base_url=server.url, timeout=120) as client,
        ):
            lines = run(client, seed, queries, copies=copies)
        bursts = []
        for batch in (1, 8) if args.concurrency else ():
            batched = {**env, "LOOKALIKE_QUERY_BATCH": str(batch)}
            with server_process(batched, Path(tmp) / "server.log") as server:
                bursts.append((batch, burst(server.url, queries, args.concurrency)))
    report_lines(lines)
    for batch, (line, seconds) in bursts:
        print(
            f"{args.concurrency} clients at once, semantic upload, query_batch={batch}: "
            f"p50 {statistics.median(line.ms):.0f} ms, p99 {percentile(line.ms, 0.99):.0f} ms, "
            f"{len(line.ms) / seconds:.2f} queries/s"
        )


def burst(url: str, queries: list[Path], clients: int) -> tuple[Line, float]:
    """``clients`` threads each sending every query as a semantic upload; (latencies, seconds)."""
    line = Line("burst")
    options = json.dumps({"top_k": 10, "signal": "semantic"})

    def client_loop(warm: bool) -> None:
        with httpx.Client(base_url=url, timeout=300) as client:
            for path in queries[:2] if warm else queries:
                send = functools.partial(
                    client.post,
                    "/collections/bench/search/upload",
                    files={"image": (path.name, path.read_bytes(), "image/jpeg")},
                    data={"query": options},
                )
                timed_request(client, Line("warm") if warm else line, send)

    for warm in (True, False):
        start = time.perf_counter()
        threads = [threading.Thread(target=client_loop, args=(warm,)) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return line, time.perf_counter() - start


def run(
    client: httpx.Client, seed: SeedPipeline, queries: list[Path], *, copies: bool = True
) -> list[Line]:
    search = "/collections/bench/search"
    blobs = {p: p.read_bytes() for p in set(queries)}
    b64 = {p: base64.b64encode(b).decode("ascii") for p, b in blobs.items()}
    ids = [p.name for p in queries]

    def as_json(path: Path, signal: str) -> Callable[[], httpx.Response]:
        body = {"image_base64": b64[path], "top_k": 10, "signal": signal}
        return lambda: client.post(search, json=body)

    def as_upload(path: Path, signal: str) -> Callable[[], httpx.Response]:
        options = json.dumps({"top_k": 10, "signal": signal})
        files = {"image": (path.name, blobs[path], "image/jpeg")}
        return lambda: client.post(search + "/upload", files=files, data={"query": options})

    def body(**query: Any) -> Callable[[], httpx.Response]:
        return lambda: client.post(search, json={"top_k": 10, **query})

    kinds: list[tuple[str, Callable[[int], Callable[[], httpx.Response]]]] = [
        ("semantic, base64 JSON", lambda i: as_json(queries[i], "semantic")),
        ("semantic, upload", lambda i: as_upload(queries[i], "semantic")),
        ("copy, base64 JSON", lambda i: as_json(queries[i], "duplicate")),
        ("copy, upload", lambda i: as_upload(queries[i], "duplicate")),
        ("id, semantic", lambda i: body(id=ids[i], signal="semantic")),
        ("id, duplicate", lambda i: body(id=ids[i], signal="duplicate")),
        ("text, repeated", lambda i: body(text="a photo of a cat on a sofa")),
        ("text, new each time", lambda i: body(text=f"a photo number {i} of a {time.time()}")),
        ("text, new, a few words", lambda i: body(text=next(FEW_WORDS))),
    ]
    if not copies:
        kinds = [k for k in kinds if "copy" not in k[0] and "duplicate" not in k[0]]
    seed_line = Line("seed-003 path (in process)")
    lines = [Line(name) for name, _ in kinds]
    for i in range(3):  # warm up both sides: model sessions, caches, connections
        seed.search_similar_images(queries[i], k=10)
        for (_, make), line in zip(kinds, lines, strict=True):
            timed_request(client, Line(line.name), make(i))
    for i in range(len(queries)):
        start = time.perf_counter()
        found = seed.search_similar_images(queries[i], k=10)
        seed_line.add(1000 * (time.perf_counter() - start), {})
        assert len(found) == 10
        for (_, make), line in zip(kinds, lines, strict=True):
            timed_request(client, line, make(i))
    return [seed_line, *lines]


def report_lines(lines: list[Line]) -> None:
    seed = statistics.median(lines[0].ms)
    head = f"{'query':28} {'p50 ms':>7} {'p99 ms':>7} {'seed/this':>9}  "
    print(head + "  ".join(f"{s:>6}" for s in ("http", *STAGES)))
    for line in lines:
        p50 = statistics.median(line.ms)
        stages = "  ".join(f"{line.stage(s):6.1f}" for s in ("http", *STAGES))
        print(
            f"{line.name:28} {p50:7.1f} {percentile(line.ms, 0.99):7.1f} {seed / p50:8.2f}x  "
            + (stages if line.stages and line.stages[0] else "")
        )
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
