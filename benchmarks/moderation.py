"""False positives of the moderation signal on ordinary photos.

Runs the moderation preparer (NudeNet through lookalike's decoder, as indexing does) on every
photograph scikit-image ships, each also mirrored and turned a quarter, and on its 200 face
crops from Labeled Faces in the Wild (upscaled), and reports, per NudeNet class, how many images
got it and its best score, then how many images the ``nsfw`` score would call unsafe at several
thresholds. No explicit image is needed or kept: an ordinary photo called unsafe is the error
measured here.

    python benchmarks/moderation.py [--min-side 512]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from lookalike.config import Settings  # noqa: E402
from lookalike.images import decode  # noqa: E402
from lookalike.signals.moderation import detect, nsfw_score  # noqa: E402

#: scikit-image's bundled photographs (its synthetic and microscopy images are left out).
PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
    "clock",
)
#: Its rendered graphics, reported apart: not photos, but ordinary uploads all the same.
GRAPHICS = ("colorwheel", "logo")


def _array(name: str) -> np.ndarray:
    from skimage import data

    return np.asarray(getattr(data, name)())


def ordinary_images(names: tuple[str, ...]) -> Iterator[tuple[str, Image.Image]]:
    from skimage import data

    arrays = [(name, _array(name)) for name in names]
    if names == PHOTOS:
        arrays += [("motorcycle_left", data.stereo_motorcycle()[0])]
    for name, array in arrays:
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        image = Image.fromarray(array).convert("RGB")
        yield name, image
        yield f"{name}-mirrored", image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        yield f"{name}-turned", image.transpose(Image.Transpose.ROTATE_90)
    if names != PHOTOS:
        return
    for i, face in enumerate(data.lfw_subset()[:100]):  # the first 100 are faces
        gray = Image.fromarray((np.asarray(face) * 255).astype(np.uint8)).convert("RGB")
        yield f"lfw-{i:03d}", gray.resize((200, 200), Image.Resampling.BICUBIC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-side", type=int, default=512, help="decode size (as indexing)")
    args = parser.parse_args()
    unsafe = Settings.unsafe_labels
    seen: dict[str, list[float]] = defaultdict(list)
    scores: list[tuple[float, str, str]] = []
    spent = 0.0
    groups = [("photos", PHOTOS), ("graphics", GRAPHICS)]
    for group, name, image in ((g, *i) for g, names in groups for i in ordinary_images(names)):
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=90)
        decoded = decode(buf.getvalue(), name=name, min_side=args.min_side)
        start = time.perf_counter()
        labels = detect(decoded)
        spent += time.perf_counter() - start
        for d in labels:
            seen[d["label"]].append(d["score"])
        scores.append((nsfw_score(labels, unsafe), name, group))
    print(f"{len(scores)} ordinary images, {1000 * spent / len(scores):.1f} ms per image")
    print(f"{'class':28} {'images':>6} {'best':>6}  counts toward nsfw")
    for label, found in sorted(seen.items(), key=lambda kv: -max(kv[1])):
        counts = "yes" if label in unsafe else "no"
        print(f"{label:28} {len(found):6d} {max(found):6.3f}  {counts}")
    for group, _ in groups:
        mine = [(s, n) for s, n, g in scores if g == group]
        worst = max(mine)
        print(f"{group}: {len(mine)} images, highest nsfw {worst[0]:.3f} ({worst[1]})")
        for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            flagged = [n for s, n in mine if s >= threshold]
            print(f"  nsfw >= {threshold:.1f}: {len(flagged)} called unsafe {flagged}")


if __name__ == "__main__":
    main()
