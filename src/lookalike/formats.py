"""Image formats told apart by their first bytes and file names, without decoding: light enough
for the SDK and the URL fetcher, which check what they send or receive before any decoder runs
(:mod:`lookalike.images` decodes)."""

from __future__ import annotations

import re

__all__ = ["SUPPORTED_EXTENSIONS", "sniff_format"]

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
    | {".heic", ".heif", ".avif"}
)


def sniff_format(data: bytes) -> str | None:
    """Format name from magic bytes ("JPEG", "PNG", ..., None if not a known image).

    Also names formats lookalike recognises but does not decode (``PDF``, ``SVG``, ``PSD``,
    ``EPS``, ``JPEG2000``, ``JXL``, ``ICO``, ``QOI``), so their refusal can say what they are.
    """
    head = bytes(data[:64])
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head.startswith(b"BM") and len(head) >= 18 and head[14] in (12, 40, 52, 56, 64, 108, 124):
        return "BMP"
    if head[4:8] == b"ftyp":
        return _sniff_isobmff(bytes(data[:256]))
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG2000"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "JXL"
    if head.startswith(b"%PDF-"):
        return "PDF"
    if head.startswith(b"8BPS"):
        return "PSD"
    if head.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6")):
        return "EPS"
    if head.startswith(b"qoif"):
        return "QOI"
    if head.startswith(b"\x00\x00\x01\x00") and len(head) >= 6 and head[4] + head[5] > 0:
        return "ICO"
    if _looks_like_svg(bytes(data[:2048])):
        return "SVG"
    return None


_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def _sniff_isobmff(head: bytes) -> str | None:
    """HEIF or AVIF from the ftyp box's major and compatible brands; other MP4s are not images."""
    box_size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    if major in _AVIF_BRANDS or (major in (b"mif1", b"msf1") and compatible & _AVIF_BRANDS):
        return "AVIF"
    if major in _HEIF_BRANDS:
        return "HEIF"
    return None


_SVG_START = re.compile(rb"^(?:<\?xml[^>]*>|<!--.*?-->|<!doctype svg[^>]*>|\s)*<svg[\s>]", re.S)


def _looks_like_svg(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return bool(_SVG_START.match(text))
