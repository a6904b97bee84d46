"""Ingest throughput: the pipeline against a naive loop, same files, same model, same run.

The naive loop is what a first script does: open each file at full size, embed it alone,
compute the duplicate signal's hash, keypoints and words on it, insert it alone. The pipeline
is ``Collection.index``: JPEG draft-mode decoding in worker processes overlapping batched
inference, batched writes.

The model is a full-size CLIP ViT-B/32 image tower with random weights (the compute of the
real one; no hub is needed), built once into ``bench-data/``. Photos are scikit-image's sample
photographs upscaled to camera size (default 4000x3000 JPEG, like a 12 MP phone photo).

    python benchmarks/ingest.py [--images 48] [--width 4000] [--height 3000]
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageEnhance  # noqa: E402
from tests.support.clip_onnx import build_vit_b32_vision  # noqa: E402
from tests.support.samples import PHOTO_NAMES, photo  # noqa: E402

from lookalike import Engine, Settings  # noqa: E402
from lookalike.images import DecodedImage  # noqa: E402
from lookalike.models.clip import load_image_encoder  # noqa: E402
from lookalike.signals.duplicate import DuplicateSignal  # noqa: E402
from lookalike.store.base import StoredPoint  # noqa: E402


def model_folder(cache: Path) -> Path:
    folder = cache / "vit-b32-random"
    if not (folder / "vision" / "model.onnx").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        print("building a ViT-B/32-shaped ONNX model (once) ...", flush=True)
        build_vit_b32_vision(folder)
    return folder


def make_photos(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"photo-{i:04d}.jpg"
        if not path.exists():
            base = photo(PHOTO_NAMES[i % len(PHOTO_NAMES)]).resize(size, Image.Resampling.BICUBIC)
            base = ImageEnhance.Brightness(base).enhance(0.7 + 0.6 * (i / max(1, count - 1)))
            buf = io.BytesIO()
            base.save(buf, "JPEG", quality=90)
            path.write_bytes(buf.getvalue())
        paths.append(path)
    return paths


def naive(paths: list[Path], model: Path, data_dir: Path) -> float:
    settings = Settings(data_dir=data_dir, offline=True)
    encoder = load_image_encoder(str(model), settings)
    with Engine(settings) as engine:
        coll = engine.create_collection("naive", model=str(model))
        store = coll.store
        start = time.perf_counter()
        duplicate = DuplicateSignal()
        for path in paths:
            image = Image.open(path).convert("RGB")  # full size, no draft mode
            vector = encoder.embed([image], batch_size=1)[0]
            decoded = DecodedImage(image, image.width, image.height, "JPEG")
            prepared = duplicate.preparer(decoded)  # the same hash, keypoints and words
            vectors = {"semantic": vector.tolist(), **duplicate.embed([prepared])[0]}
            payload = {"source": str(path), **duplicate.payload(prepared)}
            store.upsert([StoredPoint(id=path.name, payload=payload, vectors=vectors)])
        return len(paths) / (time.perf_counter() - start)


def pipeline(paths: list[Path], model: Path, data_dir: Path) -> float:
    settings = Settings(data_dir=data_dir, offline=True)
    with Engine(settings) as engine:
        coll = engine.create_collection("pipeline", model=str(model))
        coll.signals[0].encoder  # noqa: B018 - load the model before the clock starts, as naive does
        start = time.perf_counter()
        report = coll.index([paths[0].parent])
        elapsed = time.perf_counter() - start
        assert report.indexed == len(paths) and not report.failed, report.failed
        return len(paths) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--cache", type=Path, default=ROOT / "bench-data")
    args = parser.parse_args()
    model = model_folder(args.cache)
    paths = make_photos(
        args.cache / f"photos-{args.width}x{args.height}", args.images, (args.width, args.height)
    )
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"{len(paths)} JPEGs of {args.width}x{args.height}, ViT-B/32-shaped model, "
            "signals semantic+duplicate",
            flush=True,
        )
        slow = naive(paths, model, Path(tmp) / "naive")
        print(f"naive loop : {slow:6.2f} images/s", flush=True)
        fast = pipeline(paths, model, Path(tmp) / "pipeline")
        print(f"pipeline   : {fast:6.2f} images/s", flush=True)
        print(f"ratio      : {fast / slow:6.2f}x")


if __name__ == "__main__":
    main()
