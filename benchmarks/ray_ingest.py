"""Ingest throughput on Ray against a local ingest: same files, same collection settings, one run.

Local is ``Collection.index``; Ray is ``Collection.index(..., ray=...)`` with 1 and then 2
worker actors on one Ray instance started here with 2 CPUs (its start-up is timed apart; the
actors' start and model loading, and the listing task, are inside each run, as a user pays
them). Photos are scikit-image's samples upscaled (default 1600x1200 JPEG); the signals are
duplicate plus the semantic signal with a CLIP-shaped test model: ``--model tiny`` (default: a
few-node graph with 512-d output, so vectors have the real size) or ``--model vit-b32`` (CLIP
ViT-B/32's image tower at full size with random weights: the real compute per image).

Then the driver's side, which every image passes through whatever the number of workers:
the bytes a worker sends back per image (as sent: payload fields and vectors; and as the
prepared outputs, a decoded image among them, would weigh), and the points per second the
driver writes through the store seam into the embedded store and into qdrant-client's local
mode (``--write-points`` copies of the indexed points, 500 at most in local mode, in batches
of ``batch_size``), and the disk each point adds to each store.

    python benchmarks/ray_ingest.py [--images 48] [--model tiny|vit-b32] [--write-points 4000]
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ray  # noqa: E402
from tests.support.clip_onnx import build_tiny_clip, build_vit_b32_vision  # noqa: E402
from tests.support.samples import PHOTO_NAMES, photo  # noqa: E402

from lookalike import Engine, Settings  # noqa: E402
from lookalike.decode_workers import decode_plan, prepare  # noqa: E402
from lookalike.distributed.worker import BatchResult, Job, SignalWorker  # noqa: E402
from lookalike.ingest import embed_batch  # noqa: E402
from lookalike.store.base import StoredPoint, scroll_all  # noqa: E402


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


LOCAL_MODE_POINTS = 500
"""Points written into qdrant-client's local mode (tens a second: more only take longer)."""


def disk_use(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def write_rate(
    settings: Settings, name: str, model: Path, points: list[StoredPoint], folder: Path
) -> tuple[float, float]:
    """Points per second written through the store seam, a batch at a time, by one process;
    and the disk (in ``folder``) each point of the second half added (the first half pays for
    what a store lays out up front)."""
    with Engine(settings) as engine:
        coll = engine.create_collection(name, signals="semantic,duplicate", model=str(model))
        batch = settings.batch_size
        half = len(points) // 2 // batch * batch
        seconds, sizes = 0.0, []
        for part in (points[:half], points[half:]):
            start = time.perf_counter()
            for at in range(0, len(part), batch):
                coll.store.upsert(part[at : at + batch])
            seconds += time.perf_counter() - start
            sizes.append(disk_use(folder))
        assert coll.count() == len(points)
    return len(points) / seconds, (sizes[1] - sizes[0]) / (len(points) - half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1200)
    parser.add_argument("--signals", default="semantic,duplicate")
    parser.add_argument("--model", choices=("tiny", "vit-b32"), default="tiny")
    parser.add_argument("--write-points", type=int, default=4000)
    args = parser.parse_args()
    print(f"start: {load()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "photos"
        folder.mkdir()
        for n in range(args.images):
            image = photo(PHOTO_NAMES[n % len(PHOTO_NAMES)]).resize((args.width, args.height))
            image.rotate(n % 7).save(folder / f"p{n:05d}.jpg", quality=90)
        if args.model == "tiny":
            model = build_tiny_clip(root / "model", dim=512)
        else:
            model = build_vit_b32_vision(root / "model")
        settings = Settings(data_dir=root / "data", offline=True, default_model=str(model))
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        print(f"ray start-up: {time.perf_counter() - start:.1f} s", flush=True)
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
                    print(
                        f"{label:7} {rates[label]:7.1f} images/s  ({seconds:.1f} s; {costs})",
                        flush=True,
                    )
                coll = engine.collection("local")
                stored = list(scroll_all(coll.store))
                stored = coll.store.retrieve([p.id for p in stored], with_vectors=True)
                worker = SignalWorker(*coll.signal_recipe())
                paths = sorted(folder.iterdir())[: settings.batch_size]
                jobs = [Job(str(p), None, str(p)) for p in paths]
                plan = decode_plan(coll.signals, settings, thumbnails=coll.thumbnails)
                sent = len(pickle.dumps(worker.process(plan, jobs))) / len(jobs)
                whole = [prepare(plan, j.path, None, j.source) for j in jobs]
                made, spent = embed_batch(worker.signals, whole)
                unslimmed = len(pickle.dumps(BatchResult(whole, made, spent))) / len(jobs)
        finally:
            ray.shutdown()
        base = rates["local"]
        print("ratios to local: " + ", ".join(f"{k} {v / base:.2f}" for k, v in rates.items()))
        print(
            f"worker -> driver: {sent / 1024:.1f} KiB per image (payload and vectors; "
            f"{unslimmed / 1024:.1f} KiB with the prepared outputs)",
            flush=True,
        )
        copies = [
            StoredPoint(id=f"{p.id}#{n}", payload=p.payload, vectors=p.vectors)
            for n in range(-(-args.write_points // len(stored)))
            for p in stored
        ][: args.write_points]
        for label, store in (("edge", "edge"), ("qdrant-local", f"qdrant-local:{root / 'q'}")):
            where = settings.replace(data_dir=root / f"write-{label}", store=store)
            on_disk = where.data_dir if store == "edge" else root / "q"
            count = len(copies) if store == "edge" else min(len(copies), LOCAL_MODE_POINTS)
            rate, per_point = write_rate(where, "w", model, copies[:count], on_disk)
            print(
                f"driver writes ({label}): {rate:7.0f} points/s; "
                f"{per_point / 1024:.0f} KiB more on disk a point"
            )
    print(f"end: {load()}")


if __name__ == "__main__":
    main()
