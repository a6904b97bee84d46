"""Ingest throughput: lookalike against the seed-003 script, on the same photos and weights.

One run indexes the same folder of large camera-size JPEGs three ways, each in its own process:

- ``seed-003``: the loop of ``clip-faiss-guide.md`` as written there (``Image.open().convert``,
  ``CLIPProcessor``, ``CLIPModel.get_image_features`` one image at a time, L2 norm, FAISS
  ``IndexFlatIP.add``), loading the model with ``from_pretrained`` from a local folder instead of
  the hub. One adaptation: transformers 5 returns the projected features as the ``pooler_output``
  of a model output where transformers 4 returned the tensor itself; that tensor is taken.
- ``lookalike index --signals semantic`` and ``lookalike index`` (default signals: semantic +
  duplicate), the real CLI, into a fresh data dir.

The model is CLIP ViT-B/32 as transformers builds it from ``CLIPConfig()`` (the real
architecture, random weights: no hub here), saved for ``from_pretrained`` and exported to ONNX in
the layout of lookalike's model folders, so both sides compute with the same weights. Each side's
clock runs over its indexing only (both load the model before): the seed loop, and the ingest run
lookalike reports (``seconds`` of ``--json``). The photos are the photographic wallpapers of
Debian packages (fetched by ``copydays.py``'s helpers), upscaled to 12-24 megapixels with a little
sensor grain and saved as JPEG quality 92, like a camera's. Everything is cached under
``bench-data/ingest/``. The sides run in turn, ``--rounds`` times (A B C A B C), and every round is
printed with the load average around it; the ratios are of the medians.

    python benchmarks/ingest.py [--images 48] [--rounds 2] [--quick]
    python benchmarks/ingest.py --lookalike-src before=/tmp/old/src --lookalike-src after=src
    python benchmarks/ingest.py --sides seed-003,semantic,semantic-int8,default,default-int8
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from copydays import POOL, photo_bytes  # noqa: E402

CACHE = ROOT / "bench-data" / "ingest"
PHOTO_VERSION = 1
#: Camera sizes the photos are brought to, in turn: 12 MP (4:3), 12 MP phone, 24 MP (3:2).
SIZES = ((4000, 3000), (4032, 3024), (6000, 4000))
#: Photographs (not drawings) of at least 1.9 megapixels in the wallpaper packages.
WALLPAPER_PACKAGES = ("lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04", "mate-backgrounds")
PLASMA = "plasma-workspace-wallpapers"
DEFAULT_SIDES = ("seed-003", "semantic", "default")
SIDES = (*DEFAULT_SIDES, "semantic-int8", "default-int8")
"""The ``-int8`` sides index with ``--precision int8`` (the opt-in int8 image tower)."""


# photos -----------------------------------------------------------------------------------


def _sources() -> list[Image.Image]:
    cache = ROOT / "bench-data" / "copydays"
    out = []
    for photo in POOL:
        if photo.package not in (*WALLPAPER_PACKAGES, PLASMA):
            continue
        data = photo_bytes(photo, cache)
        if data is None:
            continue
        im = Image.open(io.BytesIO(data)).convert("RGB")
        if im.width * im.height >= 1_900_000:
            out.append(im)
    if not out:
        raise SystemExit("no wallpaper photos could be had (apt-get download failed)")
    return out


def make_photos(count: int, cache: Path = CACHE) -> Path:
    """``count`` distinct camera-size JPEGs (cached): the wallpapers in turn, each brought to the
    next camera size (cropped to its aspect ratio, upscaled), mirrored on odd passes, grained."""
    folder = cache / f"photos-v{PHOTO_VERSION}-{count}"
    if (folder / ".done").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    sources = _sources()
    rng = np.random.default_rng(0)
    for i in range(count):
        im = sources[i % len(sources)]
        width, height = SIZES[i % len(SIZES)]
        if im.height > im.width:
            width, height = height, width
        scale = max(width / im.width, height / im.height)
        big = im.resize(
            (max(width, round(im.width * scale)), max(height, round(im.height * scale))),
            Image.Resampling.BICUBIC,
        )
        left, top = (big.width - width) // 2, (big.height - height) // 2
        big = big.crop((left, top, left + width, top + height))
        if (i // len(sources)) % 2:
            big = big.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        pixels = np.asarray(big, dtype=np.int16)
        grain = rng.normal(0.0, 2.5, pixels.shape[:2] + (1,)).astype(np.int16)
        big = Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8))
        big.save(folder / f"photo-{i:04d}.jpg", "JPEG", quality=92)
    (folder / ".done").touch()
    return folder


def model_folders(cache: Path = CACHE) -> tuple[Path, Path]:
    """(transformers folder, lookalike ONNX folder) of one random-weight CLIP ViT-B/32."""
    from tests.support.clip_torch import build_reference_clip

    built = cache / "clip-vit-b32-random"
    if not (built / ".done").is_file():
        print("building a random-weight CLIP ViT-B/32 and its ONNX export (once) ...", flush=True)
    ref = build_reference_clip(built)
    return ref.hf, ref.onnx


# the seed-003 side (runs in its own process) ----------------------------------------------


def run_seed(hf: Path, photos: Path) -> dict[str, Any]:
    """The guide's ``ImageSearchEngine.index_images`` loop, timed stage by stage."""
    from glob import glob

    import faiss
    import torch
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(str(hf))
    processor = CLIPProcessor.from_pretrained(str(hf))
    index = faiss.IndexFlatIP(512)
    image_paths: list[str] = []
    stages = {"decode": 0.0, "preprocess": 0.0, "model": 0.0, "faiss add": 0.0}
    start = time.perf_counter()
    paths: list[str] = []
    for ext in ["*.jpg", "*.jpeg", "*.png", "*.bmp", "*.tiff"]:
        paths.extend(glob(os.path.join(str(photos), "**", ext), recursive=True))
    for image_path in paths:
        t0 = time.perf_counter()
        image = Image.open(image_path).convert("RGB")
        t1 = time.perf_counter()
        inputs = processor(images=image, return_tensors="pt")
        t2 = time.perf_counter()
        with torch.no_grad():
            image_features = model.get_image_features(**inputs)
        image_features = getattr(image_features, "pooler_output", image_features)
        embedding = image_features.numpy().flatten()
        embedding = embedding / np.linalg.norm(embedding)
        t3 = time.perf_counter()
        index.add(embedding.reshape(1, -1).astype("float32"))
        image_paths.append(image_path)
        t4 = time.perf_counter()
        for name, a, b in (
            ("decode", t0, t1),
            ("preprocess", t1, t2),
            ("model", t2, t3),
            ("faiss add", t3, t4),
        ):
            stages[name] += b - a
    seconds = time.perf_counter() - start
    n = len(image_paths)
    return {
        "images": n,
        "seconds": seconds,
        "ms_per_image": {k: 1000 * v / n for k, v in stages.items()},
    }


# the lookalike side (the CLI, in its own process) -----------------------------------------


def run_lookalike(
    onnx: Path,
    photos: Path,
    signals: str | None,
    src: Path,
    data_dir: Path,
    precision: str | None = None,
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "lookalike", "index", str(photos), "--model", str(onnx)]
    cmd += ["--data-dir", str(data_dir), "--json"]
    if signals:
        cmd += ["--signals", signals]
    if precision:
        cmd += ["--precision", precision]
    env = {**os.environ, "PYTHONPATH": str(src), "LOOKALIKE_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if report["failed"]:
        raise SystemExit(f"lookalike failed on some photos: {report['failed'][:3]}")
    return {
        "images": report["indexed"],
        "seconds": report["seconds"],
        "ms_per_image": report.get("ms_per_image", {}),
        "wall": wall,
    }


def run_side(side: str, src: Path | None, photos: Path, hf: Path, onnx: Path) -> dict[str, Any]:
    if side == "seed-003":
        cmd = [sys.executable, __file__, "--seed-only", str(hf), str(photos)]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"the seed-003 side failed:\n{done.stderr[-2000:]}")
        return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall": wall}
    assert src is not None
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        kind, _, precision = side.partition("-")
        signals = "semantic" if kind == "semantic" else None
        return run_lookalike(onnx, photos, signals, src, Path(tmp), precision or None)


# the table ---------------------------------------------------------------------------------


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _breakdown(ms: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in ms.items())


def _checkout(value: str) -> tuple[str, Path]:
    label, _, src = value.rpartition("=")
    return label or Path(src).resolve().parent.name, Path(src)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="16 photos, one round")
    parser.add_argument(
        "--sides", default=",".join(DEFAULT_SIDES), help=f"comma-separated, of {', '.join(SIDES)}"
    )
    parser.add_argument(
        "--lookalike-src",
        action="append",
        type=_checkout,
        metavar="[LABEL=]SRC",
        help="a src/ folder whose lookalike runs (repeat to compare checkouts in one run; "
        "default: this checkout's)",
    )
    parser.add_argument("--seed-only", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_only:
        print(json.dumps(run_seed(*args.seed_only)))
        return
    if args.quick:
        args.images, args.rounds = 16, 1
    checkouts: list[tuple[str, Path]] = args.lookalike_src or [("this", ROOT / "src")]
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    unknown = set(sides) - set(SIDES)
    if unknown:
        parser.error(f"unknown sides: {', '.join(sorted(unknown))}")
    runs = [(s, None) for s in sides if s == "seed-003"]
    runs += [(s, c) for c in checkouts for s in sides if s != "seed-003"]
    photos = make_photos(args.images)
    hf, onnx = model_folders()
    sizes = [Image.open(p).size for p in sorted(photos.glob("*.jpg"))]
    megapixels = [w * h / 1e6 for w, h in sizes]
    print(
        f"{len(sizes)} JPEGs of {min(megapixels):.0f}-{max(megapixels):.0f} MP; random-weight "
        f"CLIP ViT-B/32; {os.cpu_count()} cores; lookalike from "
        + ", ".join(f"{label} ({src})" for label, src in checkouts),
        flush=True,
    )
    rates: dict[str, list[float]] = {}
    for round_ in range(1, args.rounds + 1):
        for side, checkout in runs:
            name = side if checkout is None else f"{checkout[0]} {side}"
            before = _load()
            result = run_side(side, checkout and checkout[1], photos, hf, onnx)
            rate = result["images"] / result["seconds"]
            rates.setdefault(name, []).append(rate)
            wall = f", process {result['wall']:.1f}s" if "wall" in result else ""
            print(
                f"round {round_} {name}: {rate:.2f} images/s ({result['seconds']:.1f}s{wall}; "
                f"load {before} -> {_load()}); ms per image: {_breakdown(result['ms_per_image'])}",
                flush=True,
            )
    medians = {name: statistics.median(r) for name, r in rates.items()}
    print("median images/s: " + ", ".join(f"{n} {v:.2f}" for n, v in medians.items()))
    if "seed-003" in medians:
        for name, value in medians.items():
            if name != "seed-003":
                print(f"ratio {name} / seed-003: {value / medians['seed-003']:.2f}x")


if __name__ == "__main__":
    main()
