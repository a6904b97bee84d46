"""EXIF fields read from images written here with known tags, through the one decoder."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from lookalike.images import decode
from lookalike.signals.exif import ExifSignal, read_exif
from tests.support.encoded import encode


def make_exif(
    *,
    make: Any = "Canon",
    model: Any = "EOS 5D Mark IV",
    orientation: Any = 1,
    taken: Any = "2021:06:01 14:30:05",
    offset: Any = None,
    subsec: Any = None,
    gps: dict[int, Any] | None = None,
    lens: Any = None,
) -> Image.Exif:
    exif = Image.Exif()
    for tag, value in ((0x010F, make), (0x0110, model), (0x0112, orientation)):
        if value is not None:
            exif[tag] = value
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    for tag, value in ((0x9003, taken), (0x9011, offset), (0x9291, subsec), (0xA434, lens)):
        if value is not None:
            sub[tag] = value
    if gps is not None:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(gps)
    return exif


EIFFEL = {
    1: "N",
    2: (IFDRational(48), IFDRational(51), IFDRational(2952, 100)),
    3: "E",
    4: (IFDRational(2), IFDRational(17), IFDRational(4020, 100)),
    5: b"\x00",
    6: IFDRational(355, 10),
}


def encoded(
    exif: Image.Exif | bytes | None, fmt: str = "JPEG", size: tuple[int, int] = (64, 48)
) -> bytes:
    image = Image.new("RGB", size, (120, 80, 40))
    return encode(image, fmt) if exif is None else encode(image, fmt, exif=exif)


def fields(data: bytes) -> dict[str, Any]:
    decoded = decode(data, name="test", min_side=16)
    return ExifSignal().payload(ExifSignal.preparer(decoded)).get("exif", {})


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_camera_time_and_gps_are_read_from_each_format(fmt: str) -> None:
    exif = make_exif(gps=EIFFEL, lens="EF24-70mm f/2.8L II USM")
    got = fields(encoded(exif, fmt))
    assert got["make"] == "Canon" and got["model"] == "EOS 5D Mark IV"
    assert got["lens"] == "EF24-70mm f/2.8L II USM"
    assert got["orientation"] == 1
    assert got["taken_at"] == "2021-06-01T14:30:05Z"
    assert got["location"]["lat"] == pytest.approx(48 + 51 / 60 + 29.52 / 3600, abs=1e-6)
    assert got["location"]["lon"] == pytest.approx(2 + 17 / 60 + 40.2 / 3600, abs=1e-6)
    assert got["altitude"] == pytest.approx(35.5)


def test_offset_and_subseconds_make_an_exact_rfc3339_time() -> None:
    got = fields(encoded(make_exif(offset="+02:00", subsec="25")))
    assert got["taken_at"] == "2021-06-01T14:30:05.250000+02:00"
    west = fields(encoded(make_exif(offset="-07:30")))
    assert west["taken_at"] == "2021-06-01T14:30:05-07:30"


def test_southern_and_western_hemispheres_are_negative_and_below_sea_level() -> None:
    gps = {1: "S", 2: (33.0, 51.0, 54.0), 3: "W", 4: (70.0, 40.0, 12.0), 5: b"\x01", 6: 12.0}
    got = fields(encoded(make_exif(gps=gps)))
    assert got["location"] == {
        "lat": pytest.approx(-(33 + 51 / 60 + 54 / 3600), abs=1e-6),
        "lon": pytest.approx(-(70 + 40 / 60 + 12 / 3600), abs=1e-6),
    }
    assert got["altitude"] == -12.0


def test_orientation_is_kept_and_the_record_size_is_the_oriented_one() -> None:
    data = encoded(make_exif(orientation=6), size=(64, 48))
    decoded = decode(data, name="turned")
    assert ExifSignal.preparer(decoded)["orientation"] == 6
    assert (decoded.width, decoded.height) == (48, 64)


def test_date_time_falls_back_to_the_ifd0_time_when_there_is_no_original() -> None:
    exif = make_exif(taken=None)
    exif[0x0132] = "2019:12:31 23:59:59"
    assert fields(encoded(exif))["taken_at"] == "2019-12-31T23:59:59Z"


def test_no_exif_gives_no_fields() -> None:
    for fmt in ("JPEG", "PNG", "WEBP", "GIF", "BMP"):
        data = encoded(None, fmt)
        assert fields(data) == {}
        assert ExifSignal().payload(ExifSignal.preparer(decode(data, name=fmt))) == {}


@pytest.mark.parametrize(
    ("exif", "missing", "kept"),
    [
        (make_exif(taken="0000:00:00 00:00:00"), {"taken_at"}, {"make", "model"}),
        (make_exif(taken="2021:13:45 25:61:00"), {"taken_at"}, {"make"}),
        (make_exif(taken="yesterday"), {"taken_at"}, {"make"}),
        (make_exif(taken="2021:06:01 14:30:05", offset="+99:00"), set(), {"taken_at"}),
        (
            make_exif(gps={1: "N", 2: (IFDRational(1, 0), 0.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)}),
            {"location"},
            {"taken_at"},
        ),
        (
            make_exif(gps={1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)}),
            {"location"},
            {"make"},
        ),
        (
            make_exif(gps={1: "X", 2: (45.0, 0.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)}),
            {"location"},
            {"make"},
        ),
        (make_exif(gps={1: "N", 2: (45.0, 0.0, 0.0)}), {"location"}, {"make"}),
        (make_exif(gps={**EIFFEL, 9: "V"}), {"location"}, {"altitude"}),
        (
            make_exif(orientation=9, make="", model="\x00\x00"),
            {"orientation", "make", "model"},
            {"taken_at"},
        ),
    ],
)
def test_a_broken_field_is_left_out_and_the_others_kept(
    exif: Image.Exif, missing: set[str], kept: set[str]
) -> None:
    got = fields(encoded(exif))
    assert missing.isdisjoint(got), got
    assert kept <= set(got), got


def test_an_offset_out_of_range_leaves_the_time_as_utc() -> None:
    got = fields(encoded(make_exif(offset="+99:00")))
    assert got["taken_at"] == "2021-06-01T14:30:05Z"


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize(
    "raw",
    [
        b"Exif\x00\x00MM\x00*\xff\xff\xff\xff garbage",
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff",  # an IFD claiming 65535 entries
        b"Exif\x00\x00",
        b"\x00" * 40,
    ],
)
def test_garbage_exif_blocks_decode_and_give_no_fields(raw: bytes) -> None:
    data = encoded(raw)
    decoded = decode(data, name="broken")
    assert decoded.width == 64
    assert read_exif(decoded.exif) == {}


def test_a_cut_exif_block_keeps_what_comes_before_the_cut() -> None:
    whole = make_exif(gps=EIFFEL).tobytes()
    for cut in range(8, len(whole), 7):
        got = read_exif(whole[:cut])  # never raises, whatever is cut
        assert set(got) <= {"make", "model", "orientation", "taken_at", "location", "altitude"}
    assert read_exif(whole)["make"] == "Canon"


def test_long_texts_are_cut() -> None:
    got = fields(encoded(make_exif(model="X" * 1000)))
    assert got["model"] == "X" * 128
