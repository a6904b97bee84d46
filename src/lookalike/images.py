"""The one image decoder: every image lookalike indexes or queries goes through :func:`decode`.

Decoding is where untrusted bytes meet C libraries, so this module is strict about what it
accepts: the format is sniffed from magic bytes first and Pillow is only allowed the plugins of
the formats listed in :data:`SUPPORTED_EXTENSIONS` (no Ghostscript for EPS, no guessing TGA out of
random bytes); the pixel count is checked from the header before any pixel is allocated; and
every failure leaves as a :mod:`lookalike.errors` type naming the file.

The index and the query decode through the same function with the same ``min_side``, so the
pixels they see are identical for identical bytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import io
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from lookalike.errors import BadImage, ImageTooLarge, LookalikeError, UnsupportedFormat
from lookalike.formats import SUPPORTED_EXTENSIONS, sniff_format
from lookalike.resample import REDUCING_GAP, resize

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "DecodedImage",
    "decode",
    "encode_thumbnail",
    "set_pixel_budget",
    "sniff_format",
]

# decode() checks the pixel count itself, from the header and against the caller's limit, so
# Pillow's own process-wide bomb check (a fixed 89M pixels warning, 179M error) would only make
# a larger configured ``max_pixels`` ineffective and its messages cite Pillow's number.
Image.MAX_IMAGE_PIXELS = None

# Sniffed format → the Pillow plugins allowed to open it. MPO (a JPEG with extra frames, as phone
# cameras write) is produced by the JPEG plugin itself and reported as JPEG.
_PLUGINS: dict[str, tuple[str, ...]] = {
    "JPEG": ("JPEG",),
    "PNG": ("PNG",),
    "GIF": ("GIF",),
    "BMP": ("BMP",),
    "TIFF": ("TIFF",),
    "WEBP": ("WEBP",),
    "HEIF": ("HEIF",),
    "AVIF": ("AVIF",),
}
_SUPPORTED_NAMES = "JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC/HEIF, AVIF"

_WHITE = (255, 255, 255)
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})
_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_heif_lock = threading.Lock()
_heif_registered = False


class _PixelBudget:
    """A semaphore weighed in pixels: how many pixels this process decodes at once.

    Memory while decoding is about 4 bytes a pixel, so bounding pixels rather than requests keeps
    eight concurrent 100-megapixel uploads from needing 3 GB at once; each waits for room. An
    image larger than the whole budget still decodes, alone.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._cond = threading.Condition()

    def resize(self, total: int) -> None:
        if total < 1:
            raise ValueError(f"the pixel budget must be positive, got {total}")
        with self._cond:
            self.total = total
            self._cond.notify_all()

    @contextlib.contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self.used + min(pixels, self.total) <= self.total)
            weight = min(pixels, self.total)
            self.used += weight
        try:
            yield
        finally:
            with self._cond:
                self.used -= weight
                self._cond.notify_all()
            if pixels >= _TRIM_FROM:
                _release_memory()


_TRIM_FROM = 16_000_000
_budget = _PixelBudget(400_000_000)


def set_pixel_budget(total: int) -> None:
    """Pixels decoded at once in this process (the ``decode_pixel_budget`` setting)."""
    _budget.resize(total)


def _load_libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_libc = _load_libc()


def _release_memory() -> None:
    """Give a large decode's freed pages back to the system: glibc keeps them in its arenas
    otherwise, and a server's memory would stay at its peak after a burst of big uploads."""
    if _libc is not None:
        _libc.malloc_trim(0)


@dataclass(frozen=True)
class DecodedImage:
    """An RGB image ready for the signals, and the size of the original it came from."""

    image: Image.Image
    """Mode ``RGB``, orientation applied, alpha composited on white, possibly downscaled."""
    width: int
    """Width of the full image after orientation (not of the downscaled one)."""
    height: int
    format: str
    """Pillow's format name: ``JPEG``, ``PNG``, ``WEBP``, ``GIF``, ``BMP``, ``TIFF``, ``HEIF``,
    ``AVIF``."""
    exif: bytes = b""
    """The file's EXIF block as stored (TIFF header and IFDs), empty when it has none; kept so
    that signals read capture time and GPS without decoding the file a second time."""
    direct: Mapping[int, Image.Image] = field(default_factory=dict)
    """Smaller images by shorter edge (``decode``'s ``direct``), each resized straight from the
    decoded pixels rather than from ``image``."""


def decode(
    data: bytes,
    *,
    name: str = "<bytes>",
    min_side: int | None = None,
    max_pixels: int = 100_000_000,
    split: bool = False,
    direct: Sequence[int] = (),
    draft_side: int | None = None,
) -> DecodedImage:
    """Decode image bytes to RGB, downscaled so the shorter edge is ``min_side`` when larger.

    JPEGs are decoded at a reduced DCT scale (Pillow's draft mode) when ``min_side`` allows it,
    which is several times faster than a full decode followed by a resize. ``split``: the resize
    shared with a helper thread (a query's; the same pixels, sooner on idle cores). Raises
    :class:`BadImage`, :class:`UnsupportedFormat` or :class:`ImageTooLarge`, naming ``name``.

    ``direct``: shorter edges of smaller images resized straight from the decoded pixels (sized
    as CLIP processors size them), one resize where going through ``image`` would take two.
    ``draft_side`` (instead of ``min_side``, with one ``direct`` side): the DCT scale is the one
    ``draft_side`` would get, and ``image`` is that ``direct`` copy: the pixels a decode at
    ``min_side=draft_side`` gives it, without making the larger image (a query needing that
    copy alone).
    """
    if min_side is not None and min_side < 1:
        raise ValueError(f"min_side must be a positive integer, got {min_side}")
    if any(side < 1 for side in direct) or (draft_side is not None and draft_side < 1):
        raise ValueError(f"sides must be positive integers, got {direct} and {draft_side}")
    if draft_side is not None and (min_side is not None or len(direct) != 1):
        raise ValueError("draft_side is for a decode of one direct copy, without min_side")
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels}")
    if not data:
        raise BadImage(f"{name}: empty file")
    fmt = sniff_format(data)
    if fmt is None:
        raise BadImage(f"{name}: not an image (content matches no known image format)")
    if fmt not in _PLUGINS:
        raise UnsupportedFormat(
            f"{name}: {fmt} images are not supported (supported: {_SUPPORTED_NAMES})",
            detail={"format": fmt},
        )
    _ensure_plugin(fmt, name)
    try:
        return _decode(data, fmt, name, min_side, max_pixels, split, tuple(direct), draft_side)
    except LookalikeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"{name}: too large: {exc}", detail={"format": fmt}) from exc
    except MemoryError as exc:
        raise ImageTooLarge(f"{name}: not enough memory to decode this {fmt} image") from exc
    except Exception as exc:  # Pillow and its C decoders raise many unrelated types
        raise _bad_image(data, fmt, name, exc) from exc


Box = tuple[float, float, float, float]


def box_fraction(box: Box, width: int, height: int) -> Box:
    """A (left, top, right, bottom) box in pixels as fractions of the image's size (4 digits),
    the form payloads keep boxes in so they hold at any decode size."""
    return (
        round(box[0] / width, 4),
        round(box[1] / height, 4),
        round(box[2] / width, 4),
        round(box[3] / height, 4),
    )


def encode_thumbnail(image: Image.Image, max_side: int = 256, quality: int = 80) -> bytes:
    """JPEG bytes of ``image`` shrunk to fit in ``max_side`` × ``max_side`` (never enlarged)."""
    if max_side < 1:
        raise ValueError(f"max_side must be a positive integer, got {max_side}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be between 1 and 100, got {quality}")
    thumb = _to_rgb(image, "thumbnail")
    if thumb is image:
        thumb = image.copy()
    thumb.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=REDUCING_GAP)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _decode(
    data: bytes,
    fmt: str,
    name: str,
    min_side: int | None,
    max_pixels: int,
    split: bool,
    direct: tuple[int, ...],
    draft_side: int | None,
) -> DecodedImage:
    try:
        im = Image.open(io.BytesIO(data), formats=_PLUGINS[fmt])
    except UnidentifiedImageError as exc:
        raise _bad_image(data, fmt, name, exc) from exc
    try:
        raw_w, raw_h = im.size
        if raw_w * raw_h > max_pixels:
            raise ImageTooLarge(
                f"{name}: image is {raw_w}x{raw_h} ({raw_w * raw_h:,} pixels), "
                f"over the limit of {max_pixels:,} pixels",
                detail={"width": raw_w, "height": raw_h, "max_pixels": max_pixels},
            )
        scale_for = min_side if draft_side is None else draft_side
        if scale_for is not None and im.format in ("JPEG", "MPO"):
            _draft(im, scale_for)
        with _budget.hold(im.size[0] * im.size[1]):
            try:
                main = draft_side is None  # else the direct copy alone is made
                return _finish(im, fmt, name, min_side, raw_w, raw_h, split, direct, main)
            finally:
                im.close()  # frees the full-size pixels inside the budget, before memory is trimmed
    finally:
        im.close()


def _finish(
    im: Image.Image,
    fmt: str,
    name: str,
    min_side: int | None,
    raw_w: int,
    raw_h: int,
    split: bool,
    direct: tuple[int, ...] = (),
    main: bool = True,
) -> DecodedImage:
    """Decode the pixels of an opened image and bring them to RGB at the wanted sizes;
    without ``main``, the (one) ``direct`` copy is the image."""
    im.load()
    orientation = _orientation(im)
    exif = _raw_exif(im)
    swap = orientation in (5, 6, 7, 8)
    width, height = (raw_h, raw_w) if swap else (raw_w, raw_h)

    pixels = _to_rgb(im, name)
    smaller = {
        side: _shrunk(pixels, _clip_size(pixels.size, side, swap), orientation, split)
        for side in direct
    }
    if main:
        out = _shrunk(pixels, _target_size(width, height, min_side), orientation, split)
    else:
        out = smaller[direct[0]]
    if out is im or im in smaller.values():
        plain = im.copy()  # a plain image, detached from the file object and plugin state
        out = plain if out is im else out
        smaller = {side: plain if image is im else image for side, image in smaller.items()}
    return DecodedImage(
        image=out, width=width, height=height, format=fmt, exif=exif, direct=smaller
    )


def _shrunk(
    pixels: Image.Image, target: tuple[int, int] | None, orientation: int, split: bool
) -> Image.Image:
    """``pixels`` (as stored, before orientation) resized to the oriented ``target``, then
    oriented: the resize runs on the stored rows, whichever way the image is turned."""
    out = pixels
    if target is not None:
        if orientation in (5, 6, 7, 8):
            target = (target[1], target[0])
        if target != out.size:
            out = resize(out, target, split=split)
    if orientation in _TRANSPOSE:
        out = out.transpose(_TRANSPOSE[orientation])
    return out


def _clip_size(stored: tuple[int, int], side: int, swap: bool) -> tuple[int, int] | None:
    """The oriented size a CLIP processor resizes an image of the ``stored`` size to (shorter
    edge ``side``, the longer truncated, as it computes it), or None when no downscale is due:
    so that the model's own preprocessing has nothing left to resize."""
    width, height = (stored[1], stored[0]) if swap else stored
    return _target_size(width, height, side, rounded=int)


def _draft(im: Image.Image, min_side: int) -> None:
    """Ask libjpeg for the largest DCT reduction (1/2, 1/4, 1/8) keeping min_side pixels."""
    w, h = im.size
    short = min(w, h)
    for scale in (8, 4, 2):
        if -(-short // scale) >= min_side:
            # Pillow picks the largest power of two not above min(w // rw, h // rh); asking for
            # (w // scale, h // scale) makes that exactly ``scale``.
            im.draft("RGB", (w // scale, h // scale))
            return


def _target_size(
    width: int, height: int, min_side: int | None, *, rounded: Callable[[float], int] = round
) -> tuple[int, int] | None:
    """Oriented size whose shorter edge is ``min_side`` (the longer one ``rounded``), or None
    when no downscale is due."""
    if min_side is None or min(width, height) <= min_side:
        return None
    if width <= height:
        return min_side, max(1, rounded(height * min_side / width))
    return max(1, rounded(width * min_side / height)), min_side


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1–8); a broken EXIF block is ignored rather than failing the image."""
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _raw_exif(im: Image.Image) -> bytes:
    """The EXIF bytes of an open image; TIFF keeps its tags in the file's own IFD, which is
    written out while the file is still open. Anything unreadable gives no EXIF."""
    raw = im.info.get("exif")
    if isinstance(raw, bytes):
        return raw
    if im.format != "TIFF":
        return b""
    try:
        return im.getexif().tobytes()
    except Exception:
        return b""


def _to_rgb(im: Image.Image, name: str) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is composited on white."""
    if im.mode in _WIDE_MODES:
        im = _wide_to_8bit(im)
    if im.mode == "RGB" and "transparency" not in im.info:
        return im
    has_alpha = (
        im.mode in _ALPHA_MODES
        or "transparency" in im.info
        or (im.mode == "P" and im.palette is not None and im.palette.mode == "RGBA")
    )
    try:
        if not has_alpha:
            return im.convert("RGB")
        rgba = im.convert("RGBA")
    except ValueError as exc:
        raise UnsupportedFormat(
            f"{name}: colour mode {im.mode} cannot be converted to RGB", detail={"mode": im.mode}
        ) from exc
    out = Image.new("RGB", rgba.size, _WHITE)
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def _wide_to_8bit(im: Image.Image) -> Image.Image:
    """Scale 16-bit, 32-bit integer and float pixels to 8 bits instead of clipping them.

    16-bit data maps 0–65535 to 0–255; float data in 0–1 maps to 0–255; anything else (signed
    or out-of-range values) is stretched from its own minimum to its maximum.
    """
    values = np.asarray(im)
    wide = values.astype(np.float64)
    if im.mode == "F":
        wide = np.nan_to_num(wide, nan=0.0, posinf=0.0, neginf=0.0)
        top = 1.0
    else:
        top = 65535.0
    low, high = (float(wide.min()), float(wide.max())) if wide.size else (0.0, 0.0)
    if low < 0.0 or high > top:
        span = high - low
        scaled = (wide - low) * (255.0 / span) if span > 0 else np.zeros_like(wide)
    else:
        scaled = wide * (255.0 / top)
    gray = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))
    key = im.info.get("transparency")
    if isinstance(key, int) and not isinstance(key, bool):
        alpha = Image.fromarray(np.where(values == key, 0, 255).astype(np.uint8))
        gray = Image.merge("LA", (gray, alpha))
    return gray


def _bad_image(data: bytes, fmt: str, name: str, exc: BaseException) -> LookalikeError:
    """The error for a failure inside Pillow, saying 'truncated' when the file is cut short."""
    text = str(exc)
    if "security limit" in text.lower():  # libheif's own size and memory guards
        return ImageTooLarge(f"{name}: too large: {text}", detail={"format": fmt})
    if "truncated" in text.lower() or _declared_length(data, fmt) > len(data):
        return BadImage(f"{name}: truncated {fmt} file", detail={"format": fmt})
    if isinstance(exc, UnidentifiedImageError):
        return BadImage(
            f"{name}: corrupt or truncated {fmt} file (its header cannot be read)",
            detail={"format": fmt},
        )
    reason = f" ({text})" if text else ""
    return BadImage(f"{name}: corrupt {fmt} data{reason}", detail={"format": fmt})


def _declared_length(data: bytes, fmt: str) -> int:
    """File length stated in the header, for formats that state one (0 when unknown)."""
    if fmt == "WEBP" and len(data) >= 8:
        return int.from_bytes(data[4:8], "little") + 8
    if fmt == "BMP" and len(data) >= 6:
        return int.from_bytes(data[2:6], "little")
    return 0


def _ensure_plugin(fmt: str, name: str) -> None:
    """Make sure the Pillow plugin for ``fmt`` is present; HEIF's is registered on first use."""
    global _heif_registered
    if fmt == "AVIF":
        from PIL import features

        if not features.check("avif"):
            raise UnsupportedFormat(
                f"{name}: AVIF images need a Pillow built with AVIF support (Pillow >= 11.3 "
                "wheels include it)",
                detail={"format": fmt},
            )
    elif fmt == "HEIF" and not _heif_registered:
        with _heif_lock:
            if _heif_registered:
                return
            try:
                import pillow_heif
            except ImportError as exc:
                raise UnsupportedFormat(
                    f"{name}: HEIC/HEIF images need the pillow-heif package "
                    "(pip install pillow-heif)",
                    detail={"format": fmt},
                ) from exc
            pillow_heif.register_heif_opener()
            _heif_registered = True
