"""A semantic image query in one process, by where the collection's semantic input comes from.

Three collections of the same photos, side by side in one process: the default signals made as
lookalike made them before the semantic input was recorded (``shared``: the tower's input
resized from the copy signal's 512 px image), the default signals made now (``direct``: resized
straight from the decoded pixels, no 512 px image for the query), and the semantic signal alone.
Each photo's own bytes are the queries (``Collection.search(image=..., signal="semantic")``,
top 10), the collections in turns within every round so that the machine's load falls on all
three; one round warms up. Prints each collection's median time a query, its stages, and its
speed over the collection made before. The model and photos are ``benchmarks/query.py``'s (the
random-weight CLIP ViT-B/32 exported from transformers, 1600 px JPEGs), built on first use.

    python benchmarks/semantic_input.py [--images 11] [--rounds 6] [--precision int8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from tests.support.clip_torch import build_reference_clip  # noqa: E402

from lookalike import Engine, Settings  # noqa: E402
from lookalike.stages import timed  # noqa: E402
from query import make_photos  # noqa: E402

COLLECTIONS = {
    "default signals, made before (shared)": ("semantic,duplicate", "shared"),
    "default signals, made now (direct)": ("semantic,duplicate", "direct"),
    "semantic signal alone": ("semantic", "direct"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=11, help="photos, each a query")
    parser.add_argument("--rounds", type=int, default=6, help="timed rounds after a warm-up")
    parser.add_argument("--side", type=int, default=1600, help="longer side of the JPEGs")
    parser.add_argument("--precision", default=None, help="the collections', if not fp32")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench-data" / "ingest")
    args = parser.parse_args()
    clip = build_reference_clip(args.cache / "clip-vit-b32-random")
    size = (args.side, args.side * 2 // 3)
    paths = make_photos(args.cache / f"photos-{size[0]}x{size[1]}", args.images, size)
    blobs = [p.read_bytes() for p in paths]
    print(
        f"{len(paths)} photos of {size[0]}x{size[1]} (JPEG), {args.rounds} rounds, precision "
        f"{args.precision or 'fp32'}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", offline=True)
        with Engine(settings) as engine:
            for n, (signals, way) in enumerate(COLLECTIONS.values()):
                options = {"signals": signals, "model": str(clip.onnx)}
                if args.precision:
                    options["precision"] = args.precision
                made = engine.create_collection(f"c{n}", **options)
                if way == "shared":  # as a collection made before writes it on its first open
                    made.store.update_config({"semantic_input": "shared"})
        with Engine(settings) as engine:  # opened again, each as it was made
            collections = {label: engine.collection(f"c{n}") for n, label in enumerate(COLLECTIONS)}
            for coll in collections.values():
                assert coll.index(paths).indexed == len(paths)
            times: dict[str, list[float]] = {label: [] for label in collections}
            stages: dict[str, dict[str, list[float]]] = {label: {} for label in collections}
            for round_ in range(args.rounds + 1):
                for label, coll in collections.items():
                    for data in blobs:
                        with timed() as spent:
                            start = time.perf_counter()
                            coll.search(image=data, signal="semantic", top_k=10)
                            took = 1000 * (time.perf_counter() - start)
                        if round_:
                            times[label].append(took)
                            for stage, ms in spent.items():
                                stages[label].setdefault(stage, []).append(ms)
    before = statistics.median(times[next(iter(COLLECTIONS))])
    print(f"{'collection':40s} {'ms':>6s} {'decode':>7s} {'embed':>7s} {'store':>6s}  vs before")
    for label, values in times.items():
        ms = statistics.median(values)
        parts = {stage: statistics.median(v) for stage, v in stages[label].items()}
        print(
            f"{label:40s} {ms:6.1f} {parts.get('decode', 0):7.1f} {parts.get('embed', 0):7.1f} "
            f"{parts.get('store', 0):6.1f}  {before / ms:.2f}x"
        )
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
