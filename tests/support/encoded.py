"""Image bytes as clients send them: JPEG/PNG files, base64 text, and broken variants."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from PIL import Image

from tests.support.samples import PHOTO_NAMES, photo


def encode(im: Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    """``im`` as the bytes of a ``fmt`` file; ``options`` are Pillow's (quality, exif...)."""
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


def image_bytes(name: str, fmt: str = "JPEG", *, side: int | None = None) -> bytes:
    """A sample photo encoded as ``fmt``, optionally shrunk to ``side`` pixels at most."""
    im = photo(name)
    if side is not None:
        im.thumbnail((side, side))
    return encode(im, fmt)


def photo_folder(folder: Path, count: int, *, side: int) -> Path:
    """``folder`` made and holding the first ``count`` sample photos as ``NAME.jpg``."""
    folder.mkdir(parents=True)
    for name in PHOTO_NAMES[:count]:
        (folder / f"{name}.jpg").write_bytes(image_bytes(name, side=side))
    return folder


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def file_b64(path: Path) -> str:
    """A file's bytes as base64, as a client sends them in JSON."""
    return b64(path.read_bytes())


def corrupt_jpeg() -> bytes:
    """A JPEG signature followed by bytes that are no JPEG."""
    return b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 3]


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
