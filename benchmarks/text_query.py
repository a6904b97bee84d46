"""A new text query's embedding: the text tower as lookalike runs it, against how it ran before.

One random-weight CLIP ViT-B/32 text tower exported from transformers (``tests/support/
clip_torch.py``, the model of benchmarks/query.py: the real architecture, causal, pooled at the
end token), loaded through lookalike's own ``load_text_encoder`` several ways, in one process:

- **before**: fp32, the text's own tokens, ONNX Runtime's session as fastembed opens it (its
  threads spin while they wait for work);
- **padded to 77**: fp32, every text padded to CLIP's full length (``trim=False``);
- **fp32**: what lookalike does now: the text's own tokens, threads that sleep while they wait;
- **int8**: the same on the int8 copy of the tower (a ``--precision int8`` collection).

Each query is a new text (nothing cached), embedded by every variant in turn (A B C D A B C D
...), so the machine's load falls on all alike; for each query the before/variant ratio is
taken and their median printed beside each variant's p50 and p90 (tokenizing included).

    python benchmarks/text_query.py [--queries 40] [--threads N]

Needs the ``bench`` extra (torch and transformers, to build the model once) and ``int8``.
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
sys.path.insert(0, str(ROOT / "src"))

from tests.support.clip_torch import build_reference_clip, export_text_tower  # noqa: E402

from lookalike.config import Settings  # noqa: E402
from lookalike.models.clip import TextEncoder, load_text_encoder  # noqa: E402


def spinning(encoder: TextEncoder, graph: Path, threads: int | None) -> TextEncoder:
    """``encoder`` with its session opened as fastembed opens it (threads that spin)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
    encoder._embedding.model.model = onnxruntime.InferenceSession(
        str(graph), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return encoder


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=40, help="new texts, each run by all")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime's threads")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench-data" / "ingest")
    args = parser.parse_args()
    part = export_text_tower(build_reference_clip(args.cache / "clip-vit-b32-random"))
    folder = str(part.parent)
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), offline=True)
        threads = args.threads
        variants = {
            "before (fp32, threads spin)": spinning(
                load_text_encoder(folder, settings, threads=threads),
                part / "model.onnx",
                threads,
            ),
            "fp32, padded to 77": load_text_encoder(folder, settings, threads=threads, trim=False),
            "fp32 (lookalike now)": load_text_encoder(folder, settings, threads=threads),
            "int8 (lookalike now)": load_text_encoder(
                folder, settings, threads=threads, precision="int8"
            ),
        }
        sample = f"a photo number 0 of a {time.time()}"
        tokens = len(variants["fp32 (lookalike now)"]._embedding.model.tokenizer.encode(sample))
        print(
            f"{args.queries} new texts like {sample!r} ({tokens} tokens with the test "
            f"tokenizer); load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        ms: dict[str, list[float]] = {name: [] for name in variants}
        for i in range(args.queries + 2):
            for name, encoder in variants.items():
                text = f"a photo number {i} of a {time.time()}"
                start = time.perf_counter()
                encoder.embed([text])
                if i >= 2:  # the first two warm each session up
                    ms[name].append(1000 * (time.perf_counter() - start))
    before = ms["before (fp32, threads spin)"]
    print(f"{'text tower, one new text':30} {'p50 ms':>7} {'p90 ms':>7} {'before/this':>11}")
    for name, values in ms.items():
        ratio = statistics.median(b / v for b, v in zip(before, values, strict=True))
        print(
            f"{name:30} {statistics.median(values):7.1f} {percentile(values, 0.9):7.1f} "
            f"{ratio:10.2f}x"
        )
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
