"""How fast an image query can be at best: the image tower alone against the seed-003 query path.

An image query through lookalike decodes, resizes, runs the image tower and searches the store;
the tower is most of it. This script times, in one process and in turns (so the machine's load
falls on all alike), the seed-003 query path of ``benchmarks/query.py`` (open the file,
``CLIPProcessor``, ``get_image_features``, FAISS top 10), its PyTorch forward pass alone, and
lookalike's image tower alone as lookalike runs it (its own ONNX Runtime session, one image of
224 px, fp32 and int8; and fp32 at ingest's batch of 16, timed per image, the best rate this CPU
gives the tower). It counts the tower's multiply-adds from the ONNX graph's shapes, so the
compute rate each side reaches is printed beside its time, and prints the **ceiling**: the seed
path's p50 over the tower's for one image, the ratio an image query would reach if everything but
the tower cost nothing. A target above the ceiling cannot be met with that tower on that CPU.

    python benchmarks/tower_floor.py [--queries 30] [--side 1600]

Needs the ``bench`` extra (torch, transformers, faiss) and ``int8`` (onnx).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from tests.support.clip_torch import build_reference_clip  # noqa: E402

from lookalike.config import Settings  # noqa: E402
from lookalike.models.clip import ImageEncoder, load_image_encoder  # noqa: E402
from query import SeedPipeline, make_photos  # noqa: E402

BATCH = 16
"""Ingest's embedding batch (``Settings.batch_size``)."""


def multiply_adds(graph: Path) -> int:
    """Multiply-adds of one image through the graph's MatMul and Conv nodes (all of its
    arithmetic but a few per cent: norms, softmax, GELU)."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(graph))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    model = shape_inference.infer_shapes(model, data_prop=True)
    values = [*model.graph.value_info, *model.graph.input, *model.graph.output]
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}
    shapes.update({t.name: list(t.dims) for t in model.graph.initializer})
    total = 0
    for node in model.graph.node:
        if node.op_type == "MatMul":
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            if 0 in a or 0 in b:
                raise SystemExit(f"{node.name}: shapes not inferred ({a}, {b})")
            total += int(np.prod(a)) * b[-1]
        elif node.op_type == "Conv":
            weights, out = shapes[node.input[1]], shapes[node.output[0]]
            total += int(np.prod(out)) * int(np.prod(weights[1:]))
    return total


@dataclass
class Side:
    """One thing timed: ``run`` handles ``images`` images a call; ``rated`` sides run the
    tower's arithmetic (their compute rate is printed); a ``ceiling`` side is the tower alone
    on one image, labelled so in the ceiling line."""

    name: str
    run: Callable[[Path], object]
    images: int = 1
    rated: bool = False
    ceiling: str = ""
    ms: list[float] = field(default_factory=list)


def tower_run(encoder: ImageEncoder, batch: int = 1) -> Callable[[Path], object]:
    """One run of the encoder's ONNX Runtime session on ``batch`` 224 px images, nothing else."""
    session = encoder._embedding.model.model
    name = session.get_inputs()[0].name
    pixels = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    return lambda _: session.run(None, {name: pixels})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=30, help="timed turns of each side")
    parser.add_argument("--side", type=int, default=1600, help="longer side of the JPEGs")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench-data" / "ingest")
    args = parser.parse_args()
    import torch

    clip = build_reference_clip(args.cache / "clip-vit-b32-random")
    size = (args.side, args.side * 2 // 3)
    paths = make_photos(args.cache / f"photos-{size[0]}x{size[1]}", 11, size)
    seed = SeedPipeline(clip.hf)
    for path in paths:
        seed.add_image(path, seed.embed_image(path))
    inputs = seed.processor(images=[Image.open(paths[0]).convert("RGB")], return_tensors="pt")

    def seed_forward(_: Path) -> object:
        with torch.no_grad():
            return seed.model.get_image_features(**inputs)

    graph = clip.onnx / "vision" / "model.onnx"
    macs = multiply_adds(graph)
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), offline=True)
        fp32 = load_image_encoder(str(clip.onnx), settings)
        int8 = load_image_encoder(str(clip.onnx), settings, precision="int8")
        seed_path = Side("seed-003 query path (in process)", seed.search_similar_images)
        sides = [
            seed_path,
            Side("seed-003 forward pass alone (PyTorch)", seed_forward, rated=True),
            Side("lookalike tower alone, fp32", tower_run(fp32), rated=True, ceiling="fp32"),
            Side("lookalike tower alone, int8", tower_run(int8), rated=True, ceiling="int8"),
            Side(f"lookalike tower, fp32, batch {BATCH}", tower_run(fp32, BATCH), BATCH, True),
        ]
        print(
            f"{macs / 1e9:.2f} G multiply-adds an image (MatMul and Conv of {graph.name}); "
            f"torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        for i in range(args.queries + 3):  # the first 3 warm every side up
            for side in sides:
                start = time.perf_counter()
                side.run(paths[i % len(paths)])
                if i >= 3:
                    side.ms.append(1000 * (time.perf_counter() - start) / side.images)
    seed_p50 = statistics.median(seed_path.ms)
    print(f"{'side (ms an image)':40} {'p50 ms':>7} {'GFLOP/s':>8} {'seed path p50 / this':>21}")
    for side in sides:
        p50 = statistics.median(side.ms)
        rate = f"{2 * macs / p50 / 1e6:8.1f}" if side.rated else ""
        print(f"{side.name:40} {p50:7.1f} {rate:>8} {seed_p50 / p50:20.2f}x")
    print(
        "ceiling of an image query (seed path p50 / tower p50): "
        + ", ".join(
            f"{side.ceiling} {seed_p50 / statistics.median(side.ms):.2f}x"
            for side in sides
            if side.ceiling
        )
    )
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
