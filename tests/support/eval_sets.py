"""Labelled sets for evaluations, built from real photos: each photo and copies of it under
transforms form one group, as a shop's photos of one product do."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageOps

from tests.support.samples import photo

GROUPS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left")


def transformed_set(folder: Path, names: tuple[str, ...] = GROUPS) -> Path:
    """One subfolder per photo holding the photo (``0-original.jpg``, first by name: the query
    of the ``first`` protocol) and three copies: smaller, recompressed hard, cropped."""
    for name in names:
        group = folder / name
        group.mkdir(parents=True, exist_ok=True)
        im = photo(name)
        im.save(group / "0-original.jpg", quality=90)
        im.resize((im.width * 3 // 4, im.height * 3 // 4)).save(group / "1-small.jpg", quality=85)
        im.save(group / "2-recompressed.jpg", quality=35)
        w, h = im.size
        ImageOps.crop(im, (w // 10, h // 10, w // 10, h // 10)).save(
            group / "3-cropped.jpg", quality=85
        )
    return folder


def distractor(folder: Path, name: str = "camera") -> Path:
    """A photo of no group, at the root of the set."""
    path = folder / f"{name}.jpg"
    photo(name).save(path, quality=90)
    return path
