"""int8 against fp32 for the semantic model: speed of both towers, and how close the vectors are.

Both precisions load through lookalike's own code (``load_image_encoder`` / ``load_text_encoder``
with ``precision="int8"``: the int8 copies are made by :mod:`lookalike.models.int8`, once) from
one random-weight CLIP ViT-B/32 exported from transformers (``tests/support/clip_torch.py``, the
model benchmarks/ingest.py uses, with its text tower: the real architecture). Then, in one
process:

- **speed**: the image tower's ONNX session on preprocessed batches of 1 and 32 images, and the
  text tower on batches of 1 and 32 queries (tokenizing included), fp32 and int8 run in turn
  (A B A B ...), so that load on the shared machine falls on both alike; each round gives an
  int8/fp32 ratio and the median ratio is printed with its range;
- **closeness**, on real photographs (the copy benchmark's pool: Debian wallpapers and package
  sample photos, :func:`benchmarks.copydays.normalised_pool`): the cosine between each photo's
  int8 and fp32 vector, raw and after centring (random weights point every image nearly the same
  way, so the raw cosine flatters), and the top-10 agreement: for each photo as the query, the
  share of its 10 nearest other photos by fp32 vectors that are also among its 10 nearest by
  int8 vectors (again raw and centred).

Random weights show the noise quantization adds, not what it does to search quality with
trained weights: that must be measured on the user's data (``lookalike eval``). int8 speed
depends on the CPU's integer instructions, so its flags are printed (AVX2, AVX-512 VNNI, AVX-VNNI,
AMX), with the load average before and after.

    python benchmarks/precision.py [--rounds 5] [--photos 0] [--json out.json]

Needs the ``bench`` extra (torch and transformers, to build the model once) and ``int8``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from benchmarks.copydays import CACHE as PHOTO_CACHE  # noqa: E402
from benchmarks.copydays import normalised_pool  # noqa: E402
from tests.support.clip_torch import build_reference_clip, export_text_tower  # noqa: E402

from lookalike.config import Settings  # noqa: E402
from lookalike.models.clip import (  # noqa: E402
    ImageEncoder,
    TextEncoder,
    load_image_encoder,
    load_text_encoder,
)

MODEL_CACHE = ROOT / "bench-data" / "ingest" / "clip-vit-b32-random"
"""The model benchmarks/ingest.py builds; one build serves both."""
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
QUERIES = [
    "a red car parked on a street",
    "two dogs playing in the snow",
    "a bowl of fruit on a wooden table",
    "mountains at sunset",
    "a person riding a bicycle",
    "a close-up of a flower with a bee",
    "the skyline of a city at night",
    "a cup of coffee next to a laptop",
]


def cpu() -> dict[str, Any]:
    """The CPU model, its count, and which integer-math flags it has."""
    info = Path("/proc/cpuinfo")
    text = info.read_text(encoding="utf-8") if info.exists() else ""
    flags: set[str] = set()
    model = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags" and not flags:
            flags = set(value.split())
        if key.strip() == "model name" and not model:
            model = value.strip()
    return {
        "model": model,
        "cpus": os.cpu_count(),
        "flags": {f: f in flags for f in CPU_FLAGS},
    }


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def session_of(encoder: ImageEncoder) -> Any:
    """The ONNX Runtime session fastembed runs the image tower in."""
    return encoder._embedding.model.model


def timed(call: Callable[[], Any], repeat: int, warm: bool) -> float:
    """Seconds per call, the best of ``repeat`` calls (after a warm-up call if ``warm``)."""
    if warm:
        call()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def speed(
    name: str,
    calls: dict[str, Callable[[], Any]],
    items: int,
    rounds: int,
    repeat: int,
) -> dict[str, Any]:
    """Each of ``calls`` (fp32 first) in turn, ``rounds`` times: items/s of each, and each
    one's speed against fp32 (its median over the rounds, and their range)."""
    per: dict[str, list[float]] = {p: [] for p in calls}
    ratios: dict[str, list[float]] = {p: [] for p in calls if p != "fp32"}
    for n in range(rounds):
        got = {p: timed(call, repeat, warm=n == 0) for p, call in calls.items()}
        for p, seconds in got.items():
            per[p].append(items / seconds)
            if p != "fp32":
                ratios[p].append(got["fp32"] / seconds)
    row: dict[str, Any] = {"what": name}
    shown = [f"  {name:<22}"]
    for p, rates in per.items():
        rate = statistics.median(rates)
        row[p] = {"per_s": round(rate, 2), "ms": round(1000 * items / rate, 1)}
        text = f"{p} {rate:6.2f}/s ({1000 * items / rate:7.1f} ms)"
        if p in ratios:
            r = ratios[p]
            row[p]["speedup"] = round(statistics.median(r), 2)
            row[p]["speedup_range"] = [round(min(r), 2), round(max(r), 2)]
            text += f" x{row[p]['speedup']} [{min(r):.2f}-{max(r):.2f}]"
        shown.append(text)
    print("   ".join(shown), flush=True)
    return row


def top_k_agreement(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    """Mean share of each row's k nearest other rows by ``a`` that are among them by ``b``."""
    k = min(k, len(a) - 1)
    shares = []
    for space in (a, b):
        sims = space @ space.T
        np.fill_diagonal(sims, -np.inf)
        shares.append(np.argsort(-sims, axis=1)[:, :k])
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(*shares, strict=True)]))


def centred(rows: np.ndarray, mean: np.ndarray) -> np.ndarray:
    out = rows - mean
    unit: np.ndarray = out / np.linalg.norm(out, axis=1, keepdims=True)
    return unit


def closeness(fp32: np.ndarray, int8: np.ndarray) -> dict[str, Any]:
    """Cosines between the paired rows, and top-10 agreement, raw and centred (on fp32's mean:
    one centre for both, so centring cannot hide a shift)."""
    mean = fp32.mean(axis=0)
    c32, c8 = centred(fp32, mean), centred(int8, mean)
    raw = (fp32 * int8).sum(axis=1)
    cen = (c32 * c8).sum(axis=1)
    return {
        "n": len(fp32),
        "cosine_raw": {"mean": float(raw.mean()), "min": float(raw.min())},
        "cosine_centred": {"mean": float(cen.mean()), "min": float(cen.min())},
        "top10_raw": top_k_agreement(fp32, int8),
        "top10_centred": top_k_agreement(c32, c8),
        "spread_centred": float(np.mean(c32 @ c32.T)),
    }


def per_tensor_tower(
    folder: Path, scratch: Path, settings: Settings, threads: int | None
) -> ImageEncoder:
    """The image tower quantized as lookalike does, but with one scale per weight tensor."""
    import shutil

    from onnxruntime.quantization import QuantType, quantize_dynamic

    from lookalike.models.int8 import _OP_TYPES

    target = scratch / "per-tensor" / "vision"
    target.mkdir(parents=True)
    for name in ("preprocessor_config.json", "config.json"):
        shutil.copyfile(folder / "vision" / name, target / name)
    quantize_dynamic(
        folder / "vision" / "model.onnx",
        target / "model.onnx",
        op_types_to_quantize=_OP_TYPES,
        per_channel=False,
        weight_type=QuantType.QInt8,
    )
    return load_image_encoder(str(target), settings, threads=threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="A B rounds per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="calls per side per round")
    parser.add_argument("--photos", type=int, default=0, help="at most this many (0: all)")
    parser.add_argument("--model-cache", type=Path, default=MODEL_CACHE)
    parser.add_argument("--photo-cache", type=Path, default=PHOTO_CACHE)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--threads", type=int, default=None, help="ONNX Runtime threads (default: its own)"
    )
    parser.add_argument(
        "--per-tensor",
        action="store_true",
        help="also an image tower quantized with one scale per tensor instead of per channel",
    )
    args = parser.parse_args()

    report: dict[str, Any] = {"cpu": cpu(), "load_before": load()}
    flags = ", ".join(f"{f} {'yes' if v else 'no'}" for f, v in report["cpu"]["flags"].items())
    print(f"CPU: {report['cpu']['model']} x{report['cpu']['cpus']}; {flags}")
    print(f"load average before: {report['load_before']}")

    folder = export_text_tower(build_reference_clip(args.model_cache)).parent
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), offline=True)
        threads = args.threads
        started = time.perf_counter()
        i8 = load_image_encoder(str(folder), settings, precision="int8", threads=threads)
        t8 = load_text_encoder(str(folder), settings, precision="int8", threads=threads)
        first = time.perf_counter() - started
        started = time.perf_counter()
        load_image_encoder(str(folder), settings, precision="int8", threads=threads)
        load_text_encoder(str(folder), settings, precision="int8", threads=threads)
        again = time.perf_counter() - started
        i32 = load_image_encoder(str(folder), settings, threads=threads)
        t32 = load_text_encoder(str(folder), settings, threads=threads)
        per_tensor = (
            per_tensor_tower(folder, Path(data), settings, threads) if args.per_tensor else None
        )
    sizes = {
        f"{part}_{p}_mb": round((folder / part / sub / "model.onnx").stat().st_size / 1e6, 1)
        for part in ("vision", "text")
        for p, sub in (("fp32", "."), ("int8", "int8/model"))
    }
    report["quantize"] = {"first_open_s": round(first, 1), "cached_open_s": round(again, 1)}
    report["sizes"] = sizes
    print(
        f"int8 copies: made and opened in {first:.1f} s, opened again (cached) in {again:.1f} s; "
        f"files {sizes}"
    )

    print(
        f"speed ({args.rounds} rounds, each side in turn; xN: speed against fp32, the median "
        f"of the rounds [their range]; ONNX Runtime threads: {args.threads or 'its default'}):"
    )
    rng = np.random.default_rng(0)
    pixels = {n: rng.standard_normal((n, 3, 224, 224)).astype(np.float32) for n in (1, 32)}
    sessions = {"fp32": session_of(i32), "int8": session_of(i8)}
    if per_tensor is not None:
        sessions["int8_per_tensor"] = session_of(per_tensor)
    texts = {"fp32": t32, "int8": t8}
    rows = []
    for n in (1, 32):

        def image_call(p: str, n: int = n) -> Callable[[], Any]:
            return lambda: sessions[p].run(None, {"pixel_values": pixels[n]})

        rows.append(
            speed(
                f"image tower, batch {n}",
                {p: image_call(p) for p in sessions},
                n,
                args.rounds,
                args.repeat if n == 1 else 1,
            )
        )
    for n in (1, 32):
        batch = [QUERIES[i % len(QUERIES)] for i in range(n)]

        def text_call(p: str, batch: list[str] = batch) -> Callable[[], Any]:
            encoder: TextEncoder = texts[p]
            return lambda: encoder.embed(batch)

        rows.append(
            speed(
                f"text tower, batch {n}",
                {p: text_call(p) for p in texts},
                n,
                args.rounds,
                args.repeat * 3 if n == 1 else args.repeat,
            )
        )
    report["speed"] = rows

    pool = sorted(normalised_pool(args.photo_cache).values())
    if args.photos:
        pool = pool[: args.photos]
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in pool]
    v32, v8 = i32.embed(images), i8.embed(images)
    photos = closeness(v32, v8)
    if per_tensor is not None:
        report["photos_per_tensor"] = closeness(v32, per_tensor.embed(images))
    q32, q8 = t32.embed(QUERIES), t8.embed(QUERIES)
    text_cos = (q32 * q8).sum(axis=1)
    report["photos"] = photos
    report["text_cosine"] = {"mean": float(text_cos.mean()), "min": float(text_cos.min())}
    print(f"closeness on {photos['n']} real photos (int8 against fp32 vectors):")
    print(
        f"  cosine raw mean {photos['cosine_raw']['mean']:.4f} (min "
        f"{photos['cosine_raw']['min']:.4f}); centred mean {photos['cosine_centred']['mean']:.4f} "
        f"(min {photos['cosine_centred']['min']:.4f})"
    )
    print(
        f"  top-10 agreement raw {photos['top10_raw']:.3f}; centred {photos['top10_centred']:.3f}"
    )
    if per_tensor is not None:
        pt = report["photos_per_tensor"]
        print(
            f"  (image tower quantized per tensor: centred cosine mean "
            f"{pt['cosine_centred']['mean']:.4f} (min {pt['cosine_centred']['min']:.4f}); "
            f"top-10 agreement centred {pt['top10_centred']:.3f})"
        )
    print(
        f"  text queries: cosine mean {report['text_cosine']['mean']:.4f} "
        f"(min {report['text_cosine']['min']:.4f}) over {len(QUERIES)} queries"
    )
    report["load_after"] = load()
    print(f"load average after: {report['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
