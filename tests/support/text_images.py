"""Images with known text: words rendered onto real photos in several fonts, sizes and angles.

Fonts come from PyPI packages in the test extra (Roboto, Caladea) and Pillow's own built-in
font, so nothing depends on the system's fonts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.support.samples import photo

#: Words to render: real words of 4-9 letters, distinct in their first 4 letters.
WORDS = (
    "harbour", "bakery", "sunset", "museum", "garden", "station", "library", "market",
    "theatre", "gallery", "pharmacy", "bicycle", "festival", "orchard", "lantern", "canyon",
    "meadow", "violin", "kitchen", "tunnel", "glacier", "pepper", "window", "ladder",
    "rabbit", "silver", "timber", "wizard", "yellow", "zebra", "anchor", "blanket",
    "candle", "dolphin", "engine", "falcon", "ginger", "helmet", "island", "jacket",
)  # fmt: skip

BACKGROUNDS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "camera")


def font_files() -> dict[str, Path | None]:
    """Font name -> TrueType file; None is Pillow's built-in font."""
    import font_caladea
    import font_roboto

    roboto = Path(font_roboto.__file__).parent / "files"
    caladea = Path(font_caladea.__file__).parent / "files"
    return {
        "roboto": roboto / "Roboto-Regular.ttf",
        "roboto-bold-italic": roboto / "Roboto-BoldItalic.ttf",
        "caladea-serif": caladea / "Caladea-Regular.ttf",
        "caladea-bold": caladea / "Caladea-Bold.ttf",
        "pillow-default": None,
    }


def load_font(name: str | Path, size: int) -> ImageFont.FreeTypeFont:
    """A font of this module (by name), or any TrueType file (by path)."""
    path = name if isinstance(name, Path) else font_files()[name]
    if path is None:
        font = ImageFont.load_default(size=size)
        assert isinstance(font, ImageFont.FreeTypeFont)
        return font
    return ImageFont.truetype(str(path), size)


@dataclass(frozen=True)
class TextImage:
    image: Image.Image
    words: tuple[str, ...]
    font: str
    size: float
    """Text height as a share of the image's shorter edge."""
    angle: float
    box: tuple[float, float, float, float]
    """Where the text went: (left, top, right, bottom) as shares of width and height."""


def render(
    background: Image.Image,
    words: tuple[str, ...],
    *,
    font: str | Path,
    size: float,
    angle: float = 0.0,
    style: str = "outline",
    seed: int = 0,
) -> TextImage:
    """``words`` as one line on ``background``: text height ``size`` x its shorter edge, turned
    by ``angle`` degrees, as a white word outlined in black (``outline``) or dark text on a
    light label (``label``)."""
    rng = random.Random(seed)
    base = background.convert("RGB")
    px = max(8, round(size * min(base.size)))
    face = load_font(font, px)
    text = " ".join(words)
    pad = px // 2
    left, top, right, bottom = face.getbbox(text, stroke_width=max(1, px // 12))
    layer = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if style == "label":
        draw.rectangle((0, 0, layer.width, layer.height), fill=(235, 232, 220, 255))
        draw.text((pad - left, pad - top), text, font=face, fill=(25, 25, 40, 255))
    else:
        draw.text(
            (pad - left, pad - top),
            text,
            font=face,
            fill=(255, 255, 255, 255),
            stroke_width=max(1, px // 12),
            stroke_fill=(0, 0, 0, 255),
        )
    layer = layer.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    if layer.width > base.width or layer.height > base.height:
        raise ValueError(f"text {text!r} at size {size} does not fit the image")
    x = rng.randint(0, base.width - layer.width)
    y = rng.randint(0, base.height - layer.height)
    base.paste(layer, (x, y), layer)
    w, h = base.size
    box = (x / w, y / h, (x + layer.width) / w, (y + layer.height) / h)
    name = font if isinstance(font, str) else font.stem
    return TextImage(base, tuple(words), name, size, angle, box)


def background(name: str, long_side: int) -> Image.Image:
    """A scikit-image photo enlarged to ``long_side`` pixels (camera-sized inputs)."""
    im = photo(name)
    scale = long_side / max(im.size)
    return im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)


def text_set(count: int, *, long_side: int = 1600, seed: int = 0) -> list[TextImage]:
    """``count`` photos with 2 known words each, cycling through fonts, sizes, angles, styles."""
    rng = random.Random(seed)
    fonts = list(font_files())
    sizes = (0.03, 0.05, 0.08)
    angles = (0.0, 8.0, -15.0, 25.0)
    out = []
    words = list(WORDS)
    rng.shuffle(words)
    for i in range(count):
        pair = (words[(2 * i) % len(words)], words[(2 * i + 1) % len(words)])
        out.append(
            render(
                background(BACKGROUNDS[i % len(BACKGROUNDS)], long_side),
                pair,
                font=fonts[i % len(fonts)],
                size=sizes[(i // len(fonts)) % len(sizes)],
                angle=angles[(i // 2) % len(angles)],
                style="label" if i % 3 == 2 else "outline",
                seed=seed + i,
            )
        )
    return out
