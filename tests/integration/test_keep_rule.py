"""Which image a duplicate cluster keeps: the untransformed original over its framed copies."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

from lookalike import Engine
from tests.support.samples import photo


def _rotated_white_border(im: Image.Image) -> Image.Image:
    turned = im.rotate(4, Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    return ImageOps.expand(turned, (40, 40), fill=(255, 255, 255))


def _collection_of(engine: Engine, folder: Path, images: dict[str, Image.Image]):  # type: ignore[no-untyped-def]
    folder.mkdir()
    for name, im in images.items():
        im.save(folder / name, quality=90)
    c = engine.create_collection("keep", signals="duplicate")
    assert c.index([folder]).indexed == len(images)
    return c


def test_a_rotated_white_bordered_copy_with_more_pixels_loses_to_the_original(
    engine: Engine, tmp_path: Path
) -> None:
    original = photo("coffee")
    copy = _rotated_white_border(original)
    assert copy.width * copy.height > original.width * original.height
    c = _collection_of(engine, tmp_path / "set", {"coffee.jpg": original, "copy.jpg": copy})
    [cluster] = c.duplicates()
    assert {m.id for m in cluster.members} == {"coffee.jpg", "copy.jpg"}
    assert cluster.keep == "coffee.jpg"
    [largest] = c.duplicates(keep="largest")  # the former rule, still offered
    assert largest.keep == "copy.jpg"


def test_a_cluster_with_a_crop_keeps_the_whole_picture(engine: Engine, tmp_path: Path) -> None:
    original = photo("astronaut")
    w, h = original.size
    # a crop upscaled past the original's pixels: size alone would keep it
    crop = original.crop((w // 5, h // 6, w * 4 // 5, h * 5 // 6)).resize((w * 5 // 4, h * 5 // 4))
    bordered = ImageOps.expand(original, (w // 5, h // 5), fill=(30, 120, 200))
    c = _collection_of(
        engine,
        tmp_path / "set",
        {"astronaut.jpg": original, "crop.jpg": crop, "bordered.jpg": bordered},
    )
    [cluster] = c.duplicates()
    assert {m.id for m in cluster.members} == {"astronaut.jpg", "crop.jpg", "bordered.jpg"}
    assert cluster.keep == "astronaut.jpg"


def test_each_copy_says_which_part_of_it_matched(engine: Engine, tmp_path: Path) -> None:
    original = photo("chelsea")
    bordered = ImageOps.expand(original, (100, 100), fill=(255, 255, 255))
    c = _collection_of(engine, tmp_path / "set", {"cat.jpg": original, "framed.jpg": bordered})
    [cluster] = c.duplicates()
    members = {m.id: m for m in cluster.members}
    framed = members["framed.jpg"]
    assert framed.linked_to == "cat.jpg" and framed.inliers is not None
    assert framed.region is not None
    left, top, right, bottom = framed.region
    w, h = bordered.size
    assert abs(left - 100 / w) < 0.03 and abs(right - (w - 100) / w) < 0.03
    assert abs(top - 100 / h) < 0.03 and abs(bottom - (h - 100) / h) < 0.03
    assert members["cat.jpg"].region is not None  # the whole cat matched
    assert members["cat.jpg"].region[2] - members["cat.jpg"].region[0] > 0.9
