"""EXIF: capture time, GPS position, camera and orientation as filterable payload fields.

The block is read from :attr:`DecodedImage.exif` (the bytes the one decoder kept), so no file is
opened twice. Cameras and editors write every kind of broken EXIF; each field is read on its own
and a field that cannot be read is left out, so a bad block costs its fields, never the image.

Payload (under ``exif``, each key only when found): ``taken_at`` (RFC 3339), ``location``
(``{"lat", "lon"}``, a geo point), ``altitude`` (metres), ``make``, ``model``, ``lens``,
``orientation`` (1-8). The image's size is the record's ``width`` and ``height``.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from PIL import Image

from lookalike.images import DecodedImage
from lookalike.scoring import IDENTITY
from lookalike.signals.base import FieldsOnly
from lookalike.store.base import Vector, VectorSpec

# IFD0
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
# Exif IFD
_ORIGINAL, _DIGITIZED = 0x9003, 0x9004
_OFFSET_ORIGINAL, _OFFSET_DIGITIZED, _OFFSET = 0x9011, 0x9012, 0x9010
_SUBSEC_ORIGINAL, _SUBSEC_DIGITIZED, _SUBSEC = 0x9291, 0x9292, 0x9290
_LENS_MODEL = 0xA434
# GPS IFD
_LAT_REF, _LAT, _LON_REF, _LON, _ALT_REF, _ALT, _GPS_STATUS = 1, 2, 3, 4, 5, 6, 9

_MAX_TEXT = 128
_EXIF_TIME = re.compile(r"^\s*(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET_TEXT = re.compile(r"^\s*([+-])(\d{2}):(\d{2})\s*$")

#: No vectors: the calibration exists to satisfy the signal protocol and maps nothing.


def read_exif(raw: bytes) -> dict[str, Any]:
    """The EXIF fields lookalike keeps, from an EXIF block; ``{}`` when there is none."""
    if not raw:
        return {}
    exif = Image.Exif()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns on each corrupt tag
        try:
            exif.load(raw)
        except Exception:
            return {}
        base = _safe(lambda: dict(exif)) or {}
        sub = _safe(lambda: dict(exif.get_ifd(_EXIF_IFD))) or {}
        gps = _safe(lambda: dict(exif.get_ifd(_GPS_IFD))) or {}
    fields: dict[str, Any] = {
        "taken_at": _taken_at(base, sub),
        "location": _location(gps),
        "altitude": _altitude(gps),
        "make": _text(base.get(_MAKE)),
        "model": _text(base.get(_MODEL)),
        "lens": _text(sub.get(_LENS_MODEL)),
        "orientation": _orientation(base.get(_ORIENTATION)),
    }
    return {k: v for k, v in fields.items() if v is not None}


def prepare(decoded: DecodedImage) -> dict[str, Any]:
    """The EXIF fields of one image (runs in decode workers)."""
    return read_exif(decoded.exif)


def _safe(read: Callable[[], dict[int, Any]]) -> dict[int, Any] | None:
    try:
        return read()
    except Exception:
        return None


def _taken_at(base: dict[int, Any], sub: dict[int, Any]) -> str | None:
    """DateTimeOriginal, else DateTimeDigitized, else DateTime; with its offset when the camera
    wrote one (EXIF 2.31), else the camera's clock read as UTC."""
    for when, offset, subsec, table in (
        (_ORIGINAL, _OFFSET_ORIGINAL, _SUBSEC_ORIGINAL, sub),
        (_DIGITIZED, _OFFSET_DIGITIZED, _SUBSEC_DIGITIZED, sub),
        (_DATETIME, _OFFSET, _SUBSEC, base),
    ):
        moment = _datetime(table.get(when), sub.get(offset), sub.get(subsec))
        if moment is not None:
            return moment.isoformat().replace("+00:00", "Z")
    return None


def _datetime(value: Any, offset: Any, subsec: Any) -> datetime | None:
    text = _text(value)
    match = _EXIF_TIME.match(text or "")
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:  # 0000:00:00 00:00:00, month 13, ...
        return None
    digits = (_text(subsec) or "").strip()
    if digits.isdigit():
        moment = moment.replace(microsecond=int(digits[:6].ljust(6, "0")))
    zone = _OFFSET_TEXT.match(_text(offset) or "")
    if zone is not None:
        sign, hours, minutes = zone.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta <= timedelta(hours=14):
            moment = moment.replace(tzinfo=timezone(-delta if sign == "-" else delta))
    return moment


def _location(gps: dict[int, Any]) -> dict[str, float] | None:
    if _text(gps.get(_GPS_STATUS)) == "V":  # "void": the receiver had no fix
        return None
    lat = _degrees(gps.get(_LAT), gps.get(_LAT_REF), "NS")
    lon = _degrees(gps.get(_LON), gps.get(_LON_REF), "EW")
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    return {"lat": round(lat, 7), "lon": round(lon, 7)}


def _degrees(value: Any, ref: Any, hemispheres: str) -> float | None:
    """Degrees, minutes, seconds (or fewer parts) and a hemisphere letter as signed degrees."""
    if not isinstance(value, tuple | list) or not 1 <= len(value) <= 3:
        return None
    parts = [_number(v) for v in value]
    if any(p is None or p < 0 for p in parts):
        return None
    degrees = sum(p / 60**i for i, p in enumerate(parts) if p is not None)
    letter = (_text(ref) or hemispheres[0]).upper()[:1]
    if letter not in hemispheres:
        return None
    return float(-degrees if letter == hemispheres[1] else degrees)


def _altitude(gps: dict[int, Any]) -> float | None:
    height = _number(gps.get(_ALT))
    if height is None or height > 100_000:
        return None
    ref = gps.get(_ALT_REF)
    below = ref in (1, b"\x01") or (isinstance(ref, bytes) and ref[:1] == b"\x01")
    return round(-height if below else height, 2)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", " ").strip()
    return text[:_MAX_TEXT] if text else None


def _orientation(value: Any) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= 8 else None


class ExifSignal(FieldsOnly):
    name = "exif"
    min_side = 1
    """EXIF needs no pixels: alone it lets the decoder stop at its smallest size."""
    preparer = staticmethod(prepare)
    calibration = IDENTITY
    model_id = None

    def vector_specs(self) -> list[VectorSpec]:
        return []

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        return [{} for _ in prepared]

    def payload(self, prepared: Any) -> dict[str, Any]:
        return {"exif": prepared} if prepared else {}
