"""Time to group a collection into near-duplicate clusters (``lookalike duplicates``).

Builds N distinct images (tiles at random positions, sizes and orientations of scikit-image's
photos, recoloured; about one in ten gets a recompressed copy), indexes them with the
duplicate signal, then times ``Collection.duplicates()`` and checks it found the planted copies.

    python benchmarks/grouping.py [--images 10000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import ImageEnhance  # noqa: E402
from tests.support.samples import PHOTO_NAMES, photo  # noqa: E402

from lookalike import Engine, Settings  # noqa: E402


def build(folder: Path, count: int, seed: int = 0) -> set[frozenset[str]]:
    rng = random.Random(seed)
    sources = [photo(n) for n in PHOTO_NAMES]
    planted: set[frozenset[str]] = set()
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    while n < count:
        src = rng.choice(sources)
        side = rng.randint(96, 200)
        x, y = rng.randint(0, src.width - side), rng.randint(0, src.height - side)
        tile = src.crop((x, y, x + side, y + side)).resize((256, 256))
        tile = tile.rotate(rng.choice([0, 90, 180, 270]))
        tile = ImageEnhance.Color(tile).enhance(rng.uniform(0.2, 1.8))
        tile = ImageEnhance.Brightness(tile).enhance(rng.uniform(0.6, 1.4))
        name = f"{n:05d}.jpg"
        tile.save(folder / name, quality=90)
        n += 1
        if n < count and rng.random() < 0.1:
            copy = f"{n:05d}.jpg"
            tile.resize((160, 160)).save(folder / copy, quality=40)
            planted.add(frozenset({name, copy}))
            n += 1
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        planted = build(folder, args.images)
        with Engine(Settings(data_dir=Path(tmp) / "data", offline=True)) as engine:
            coll = engine.create_collection("g", signals="duplicate")
            start = time.perf_counter()
            report = coll.index([folder])
            indexed = time.perf_counter() - start
            print(
                f"indexed {report.indexed} images in {indexed:.0f} s "
                f"({report.indexed / indexed:.1f} images/s)",
                flush=True,
            )
            start = time.perf_counter()
            clusters = coll.duplicates()
            grouped = time.perf_counter() - start
        found = {frozenset(m.id for m in c.members) for c in clusters}
        recovered = sum(any(p <= f for f in found) for p in planted)
        print(
            f"grouped {report.indexed} images in {grouped:.0f} s "
            f"({report.indexed / grouped:.1f} records/s): {len(clusters)} clusters, "
            f"{recovered}/{len(planted)} planted copy pairs found, "
            f"{sum(len(f) > 2 for f in found)} clusters larger than a pair"
        )


if __name__ == "__main__":
    main()
