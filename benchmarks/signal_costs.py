"""What each signal costs per image, so a user knows what enabling it costs.

For every signal named (any list; a signal whose module does not exist yet, or whose extra is
not installed, is skipped with a message), on the same camera-size JPEGs (the ingest
benchmark's, 12 to 24 megapixels, built once under ``bench-data/ingest/``): the decode at the
size the signal needs, its preparer (what the decode workers run), and its model call
(batched, in the main process), in milliseconds per image, one image at a time on this machine.
Model loading is timed apart (the first image). In a collection the image is decoded once, at
the largest size its signals need, and the preparers run in parallel in the decode workers.

The semantic signal uses a full-size CLIP ViT-B/32 image tower with random weights (the
compute of the real one; no hub needed), as benchmarks/ingest.py does.

    python benchmarks/signal_costs.py [--signals semantic,duplicate,moderation,exif,faces,text]
                                      [--images 24]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from benchmarks.ingest import make_photos, model_folders  # noqa: E402

from lookalike.config import Settings  # noqa: E402
from lookalike.errors import LookalikeError  # noqa: E402
from lookalike.images import decode  # noqa: E402
from lookalike.signals import build_signal  # noqa: E402
from lookalike.signals.base import Signal  # noqa: E402

ALL = "semantic,duplicate,moderation,exif,faces,text"


def load(name: str, settings: Settings) -> Signal | str:
    """The signal, or why it is skipped."""
    if importlib.util.find_spec(f"lookalike.signals.{name}") is None:
        return f"lookalike.signals.{name} does not exist yet"
    model = str(model_folders()[1]) if name == "semantic" else ""
    try:
        return build_signal(name, settings, model=model)
    except LookalikeError as exc:
        return exc.message


def measure(signal: Signal, files: list[Path], batch_size: int) -> dict[str, float]:
    datas = [f.read_bytes() for f in files]
    start = time.perf_counter()  # the first image loads the models: timed apart
    first = signal.preparer(decode(datas[0], name=files[0].name, min_side=signal.min_side))
    signal.embed([first])
    loaded = time.perf_counter() - start
    decode_s = prepare_s = embed_s = 0.0
    prepared: list[Any] = []
    for data, path in zip(datas, files, strict=True):
        t0 = time.perf_counter()
        decoded = decode(data, name=path.name, min_side=signal.min_side)
        t1 = time.perf_counter()
        prepared.append(signal.preparer(decoded))
        t2 = time.perf_counter()
        decode_s, prepare_s = decode_s + t1 - t0, prepare_s + t2 - t1
    for i in range(0, len(prepared), batch_size):
        t0 = time.perf_counter()
        signal.embed(prepared[i : i + batch_size])
        embed_s += time.perf_counter() - t0
    n = len(files)
    return {
        "min_side": signal.min_side,
        "decode": 1000 * decode_s / n,
        "prepare": 1000 * prepare_s / n,
        "embed": 1000 * embed_s / n,
        "load_s": loaded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", default=ALL, help=f"comma-separated (default {ALL})")
    parser.add_argument("--images", type=int, default=24)
    args = parser.parse_args()
    files = sorted(make_photos(args.images).glob("*.jpg"))[: args.images]
    names = [n.strip() for n in args.signals.split(",") if n.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), offline=True)
        print(f"{len(files)} camera JPEGs of 12 to 24 MP, ms per image", flush=True)
        header = f"{'signal':12} {'decoded at':>10} {'decode':>8} {'prepare':>8} {'model':>8}"
        print(f"{header} {'signal':>8} {'total':>8} {'load s':>7}")
        for name in names:
            signal = load(name, settings)
            if isinstance(signal, str):
                print(f"{name:12} skipped: {signal}", flush=True)
                continue
            m = measure(signal, files, settings.batch_size)
            own = m["prepare"] + m["embed"]
            print(
                f"{name:12} {m['min_side']:>10} {m['decode']:8.1f} {m['prepare']:8.2f} "
                f"{m['embed']:8.1f} {own:8.1f} {own + m['decode']:8.1f} {m['load_s']:7.2f}",
                flush=True,
            )
        print("signal = prepare + model: what adding the signal costs; the decode is shared")


if __name__ == "__main__":
    main()
