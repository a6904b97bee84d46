"""Real photographs that scikit-image ships in its wheel (no download needed)."""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image

PHOTO_NAMES = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "retina",
    "motorcycle_left",
    "camera",
)


@cache
def _array(name: str) -> np.ndarray:
    from skimage import data

    if name == "motorcycle_left":
        return np.asarray(data.stereo_motorcycle()[0])
    return np.asarray(getattr(data, name)())


def photo(name: str) -> Image.Image:
    """The photo as an RGB image, at most 512 px on its longer side (keeps tests fast)."""
    im = Image.fromarray(_array(name)).convert("RGB")
    im.thumbnail((512, 512))
    return im
