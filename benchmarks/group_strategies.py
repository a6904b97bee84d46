"""How a product with several photos should score: by its best photo (``max``) or the mean of
its best m photos (``mean``), measured with the evaluation protocol of the visual-search talk
(the first photo of each product is the query, the other photos are the catalog).

Products are regions of scikit-image's photos, each seen in several "photos" (a looser or
tighter crop, mirrored, relit, on a white catalogue background, a small turn); neighbouring
regions of one photo make hard negatives. Each strategy runs on the same collection, through
``Engine.evaluate``; the duplicate signal is real, the semantic one uses the tiny random-weight
test model (no trained weights here), so its figures say nothing about a real CLIP model.

    python benchmarks/group_strategies.py [--products 60] [--photos 4]
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

from PIL import Image, ImageEnhance, ImageOps  # noqa: E402
from tests.support.clip_onnx import build_tiny_clip  # noqa: E402
from tests.support.samples import PHOTO_NAMES, photo  # noqa: E402

from lookalike import Engine, Settings  # noqa: E402
from lookalike.evaluation import Variant  # noqa: E402


def view(tile: Image.Image, k: int, rng: random.Random) -> Image.Image:
    """The k-th photo of a product: each a different way of photographing it."""
    if k == 0:
        return tile
    if k == 1:
        w, h = tile.size
        m = rng.randint(10, 30)
        return tile.crop((m, m, w - m, h - m)).resize((256, 256))
    if k == 2:
        return ImageEnhance.Brightness(ImageOps.mirror(tile)).enhance(rng.uniform(0.7, 1.3))
    if k == 3:
        canvas = Image.new("RGB", (320, 320), "white")
        canvas.paste(tile.resize((200, 200)), (60, 60))
        return canvas
    return tile.rotate(rng.uniform(-12, 12), expand=False, fillcolor=(255, 255, 255))


def build(folder: Path, products: int, photos: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    sources = [photo(n) for n in PHOTO_NAMES]
    for p in range(products):
        src = sources[p % len(sources)]
        side = rng.randint(110, 200)
        x, y = rng.randint(0, src.width - side), rng.randint(0, src.height - side)
        tile = src.crop((x, y, x + side, y + side)).resize((256, 256))
        tile = ImageEnhance.Color(tile).enhance(rng.uniform(0.6, 1.4))
        group = folder / f"p{p:03d}"
        group.mkdir(parents=True)
        for k in range(photos):
            view(tile, k, rng).save(group / f"{k}.jpg", quality=88)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=60)
    parser.add_argument("--photos", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root / "catalog", args.products, args.photos)
        model = build_tiny_clip(root / "model")
        settings = Settings(data_dir=root / "data", offline=True, default_model=str(model))
        strategies = {
            "max": {},
            "mean m=2": {"group_score": "mean", "group_top": 2},
            "mean m=3": {"group_score": "mean", "group_top": 3},
        }
        print(f"{args.products} products x {args.photos} photos; query: each product's first photo")
        print(f"{'signal':10} {'strategy':10} {'top-1':>6} {'top-3':>6} {'mAP':>6} {'ms/query':>9}")
        with Engine(settings) as engine:
            for signal in ("duplicate", "semantic"):
                variants = [
                    Variant(f"{signal} {name}", {"signals": signal}, {"signal": signal, **opts})
                    for name, opts in strategies.items()
                ]
                engine.evaluate(root / "catalog", variants[:1], top_k=10)  # index once
                for variant in variants:
                    started = time.perf_counter()
                    report = engine.evaluate(root / "catalog", [variant], top_k=10)
                    took = (time.perf_counter() - started) * 1000 / max(1, report.queries)
                    s = report.variants[0].summary
                    name = variant.name.split(" ", 1)[1]
                    print(
                        f"{signal:10} {name:10} {s.accuracy[1]:6.3f} {s.accuracy[3]:6.3f} "
                        f"{s.map:6.3f} {took:9.1f}"
                    )


if __name__ == "__main__":
    main()
