"""A folder of photos for an ingest with every signal: package photos cropped, resized and
relit, with the face portraits of the tests as every tenth image and words rendered on every
tenth other one, so that faces, text, moderation and EXIF all have work to do.

    python benchmarks/mixed_photos.py OUT [--count 1000] [--width 1024] [--height 768]
    lookalike index OUT -c all --signals semantic,duplicate,faces,text,moderation,exif \\
        --model bench-data/vit-b32-random --on-unsafe flag

(``bench-data/vit-b32-random`` is the ViT-B/32-shaped model ``benchmarks/ingest.py`` builds.)
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from PIL import Image, ImageEnhance  # noqa: E402
from tests.support.samples import PHOTO_NAMES, photo  # noqa: E402
from tests.support.text_images import render  # noqa: E402

WORDS = (
    "Opening",
    "Hours",
    "Sale",
    "Coffee",
    "Launch",
    "Garden",
    "Museum",
    "Station",
    "Harbor",
    "Market",
)


def make(out: Path, count: int, size: tuple[int, int]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    faces = sorted((ROOT / "tests" / "data" / "faces").glob("*.jpg"))
    bases = {name: photo(name).convert("RGB") for name in PHOTO_NAMES}
    for i in range(count):
        if i % 10 == 0:
            im = Image.open(faces[i // 10 % len(faces)]).convert("RGB")
        else:
            im = bases[PHOTO_NAMES[i % len(PHOTO_NAMES)]]
        w, h = im.size
        left, top = rng.randint(0, w // 10), rng.randint(0, h // 10)
        im = im.crop((left, top, w - rng.randint(0, w // 10), h - rng.randint(0, h // 10)))
        im = ImageEnhance.Brightness(im.resize(size)).enhance(rng.uniform(0.7, 1.3))
        if i % 10 == 5:
            im = render(im, (rng.choice(WORDS), rng.choice(WORDS)), font="roboto", size=0.08).image
        im.save(out / f"img-{i:04d}.jpg", quality=88)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    args = parser.parse_args()
    make(args.out, args.count, (args.width, args.height))
    print(f"{args.count} photos in {args.out}")


if __name__ == "__main__":
    main()
