"""Ingest throughput on Ray against a local ingest: same files, same collection settings, one run.

Local is ``Collection.index``; Ray is ``Collection.index(..., ray=...)`` with 1 and then 2
worker actors on one Ray instance started here with 2 CPUs (its start-up is timed apart; the
actors' start and model loading are inside each run, as a user pays them). Photos are
scikit-image's samples upscaled (default 1600x1200 JPEG); the signals are duplicate plus the
semantic signal with the tiny test CLIP model (``--signals duplicate`` leaves the model out).

    python benchmarks/ray_ingest.py [--images 48] [--signals semantic,duplicate]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ray  # noqa: E402
from tests.support.clip_onnx import build_tiny_clip  # noqa: E402
from tests.support.samples import PHOTO_NAMES, photo  # noqa: E402

from lookalike import Engine, Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1200)
    parser.add_argument("--signals", default="semantic,duplicate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "photos"
        folder.mkdir()
        for n in range(args.images):
            image = photo(PHOTO_NAMES[n % len(PHOTO_NAMES)]).resize((args.width, args.height))
            image.rotate(n % 7).save(folder / f"p{n:05d}.jpg", quality=90)
        model = build_tiny_clip(root / "tiny-clip")
        settings = Settings(data_dir=root / "data", offline=True, default_model=str(model))
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        print(f"ray start-up: {time.perf_counter() - start:.1f} s")
        rates: dict[str, float] = {}
        try:
            with Engine(settings) as engine:
                for label, options in (
                    ("local", {}),
                    ("ray x1", {"ray": "local", "ray_workers": 1}),
                    ("ray x2", {"ray": "local", "ray_workers": 2}),
                ):
                    name = label.replace(" ", "-")
                    coll = engine.create_collection(name, signals=args.signals, model=str(model))
                    start = time.perf_counter()
                    report = coll.index([folder], **options)  # type: ignore[arg-type]
                    seconds = time.perf_counter() - start
                    assert report.indexed == args.images, report.failed[:3]
                    rates[label] = args.images / seconds
                    costs = ", ".join(f"{k} {v} ms" for k, v in report.ms_per_image.items())
                    print(f"{label:7} {rates[label]:7.1f} images/s  ({seconds:.1f} s; {costs})")
        finally:
            ray.shutdown()
        base = rates["local"]
        print("ratios to local: " + ", ".join(f"{k} {v / base:.2f}" for k, v in rates.items()))


if __name__ == "__main__":
    main()
