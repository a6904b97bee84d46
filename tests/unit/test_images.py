"""The decoder on real photos and hand-built files: formats, orientation, modes, limits, errors."""

from __future__ import annotations

import io
import random
import resource
import struct
import subprocess
import sys
import warnings
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import skimage.data
import tifffile
from PIL import Image, ImageOps, JpegImagePlugin

from lookalike import images
from lookalike.errors import BadImage, ImageTooLarge, LookalikeError, UnsupportedFormat
from lookalike.images import (
    SUPPORTED_EXTENSIONS,
    DecodedImage,
    decode,
    encode_thumbnail,
    sniff_format,
)
from tests.support.encoded import encode

# ---------------------------------------------------------------- helpers


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def raw_png(width: int, height: int, bit_depth: int, color_type: int, rows: bytes | None) -> bytes:
    """A PNG written by hand, for what Pillow cannot write (16-bit RGB) or should never allocate."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    idat = zlib.compress(rows if rows is not None else b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def rgb_of(decoded: DecodedImage, xy: tuple[int, int]) -> tuple[int, int, int]:
    value = decoded.image.getpixel(xy)
    assert isinstance(value, tuple)
    return (int(value[0]), int(value[1]), int(value[2]))


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    return float(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean())


def expect(kind: type[LookalikeError], data: bytes, name: str, *words: str, **kw: Any) -> str:
    """Decode ``data`` expecting ``kind``; the message must name the file and say ``words``."""
    with pytest.raises(kind) as info:
        decode(data, name=name, **kw)
    message = str(info.value)
    assert name in message
    for word in words:
        assert word in message.lower()
    return message


# ---------------------------------------------------------------- photos

CHELSEA_SIZE = (451, 300)
ENCODERS: dict[str, Callable[[Image.Image], bytes]] = {
    "JPEG": lambda im: encode(im, "JPEG", quality=90),
    "PNG": lambda im: encode(im, "PNG", compress_level=1),
    "WEBP": lambda im: encode(im, "WEBP", quality=90),
    "GIF": lambda im: encode(im, "GIF"),
    "BMP": lambda im: encode(im, "BMP"),
    "TIFF": lambda im: encode(im, "TIFF"),
    "HEIF": lambda im: encode(im, "HEIF", quality=60),
    "AVIF": lambda im: encode(im, "AVIF", quality=90, speed=10),
}
LOSSLESS = {"PNG", "BMP", "TIFF"}


@pytest.fixture(scope="module")
def chelsea() -> Image.Image:
    return Image.fromarray(skimage.data.chelsea())


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut())


@pytest.fixture(scope="module")
def coffee() -> Image.Image:
    return Image.fromarray(skimage.data.coffee())


@pytest.fixture(scope="module")
def heif_saving() -> None:
    """Pillow needs pillow_heif's plugin to *write* HEIF test files."""
    import pillow_heif

    pillow_heif.register_heif_opener()


@pytest.fixture(scope="module")
def encoded(chelsea: Image.Image, heif_saving: None) -> dict[str, bytes]:
    return {fmt: encoder(chelsea) for fmt, encoder in ENCODERS.items()}


@pytest.fixture(scope="module")
def big_jpeg(astronaut: Image.Image) -> bytes:
    return encode(astronaut.resize((4000, 3000), Image.Resampling.BILINEAR), "JPEG", quality=85)


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", sorted(ENCODERS))
def test_every_format_round_trips(
    fmt: str, encoded: dict[str, bytes], chelsea: Image.Image
) -> None:
    decoded = decode(encoded[fmt], name=f"chelsea.{fmt.lower()}")
    assert decoded.format == fmt
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == CHELSEA_SIZE
    assert (decoded.width, decoded.height) == CHELSEA_SIZE
    diff = mean_abs_diff(decoded.image, chelsea)
    if fmt in LOSSLESS:
        assert diff == 0
    else:
        assert diff < 8, diff  # lossy or palette-quantised, but the same photo
    assert type(decoded.image) is Image.Image  # detached from the file and its plugin


@pytest.mark.parametrize("fmt", sorted(ENCODERS))
def test_sniff_format_names_each_supported_format(fmt: str, encoded: dict[str, bytes]) -> None:
    assert sniff_format(encoded[fmt]) == fmt


def test_sniff_format_knows_unsupported_formats_and_non_images(chelsea: Image.Image) -> None:
    assert sniff_format(encode(chelsea.resize((32, 32)), "JPEG2000")) == "JPEG2000"
    assert sniff_format(encode(chelsea, "PDF")) == "PDF"
    assert sniff_format(encode(chelsea.resize((32, 32)), "ICO")) == "ICO"
    assert sniff_format(encode(chelsea, "QOI")) == "QOI"
    assert sniff_format(b"8BPS\x00\x01" + bytes(40)) == "PSD"
    assert sniff_format(b"%!PS-Adobe-3.0 EPSF-3.0\n") == "EPS"
    assert sniff_format(b'<?xml version="1.0"?>\n<!-- x -->\n<svg xmlns="x"></svg>') == "SVG"
    assert sniff_format(b"\xef\xbb\xbf  <svg width='1'/>") == "SVG"
    assert sniff_format(b"<!DOCTYPE html><html><body><svg></svg></body></html>") is None
    assert sniff_format(b"just some text\n") is None
    assert sniff_format(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2") is None  # a video
    assert sniff_format(b"") is None


def test_sniff_format_tells_avif_from_heif_by_compatible_brands() -> None:
    def ftyp(major: bytes, *compatible: bytes) -> bytes:
        body = b"ftyp" + major + b"\x00\x00\x00\x00" + b"".join(compatible)
        return struct.pack(">I", len(body) + 4) + body + bytes(32)

    assert sniff_format(ftyp(b"mif1", b"mif1", b"avif", b"miaf")) == "AVIF"
    assert sniff_format(ftyp(b"mif1", b"mif1", b"heic")) == "HEIF"
    assert sniff_format(ftyp(b"heix", b"mif1")) == "HEIF"
    assert sniff_format(ftyp(b"avis", b"msf1")) == "AVIF"


def test_supported_extensions() -> None:
    assert SUPPORTED_EXTENSIONS == {
        ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff",
        ".heic", ".heif", ".avif",
    }  # fmt: skip


def test_heif_opener_is_not_registered_at_import() -> None:
    code = (
        "import sys, lookalike.images\n"
        "from PIL import Image\n"
        "Image.init()\n"
        "assert 'pillow_heif' not in sys.modules\n"
        "assert 'HEIF' not in Image.OPEN\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_one_pixel_images_decode_and_are_never_upscaled() -> None:
    pixel = Image.new("RGB", (1, 1), (12, 200, 34))
    for fmt in ("PNG", "BMP", "GIF", "TIFF", "WEBP"):
        decoded = decode(encode(pixel, fmt, **({"lossless": True} if fmt == "WEBP" else {})))
        assert decoded.image.size == (1, 1)
        assert (decoded.width, decoded.height) == (1, 1)
    decoded = decode(encode(pixel, "PNG"), min_side=224)
    assert decoded.image.size == (1, 1)
    assert rgb_of(decoded, (0, 0)) == (12, 200, 34)
    assert decode(encode(pixel, "JPEG"), min_side=224).image.size == (1, 1)


def test_mpo_from_a_camera_is_reported_as_jpeg_and_gives_its_first_frame() -> None:
    first, second, _ = three_frames()
    data = encode(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    decoded = decode(data, min_side=4)
    assert decoded.format == "JPEG"
    assert decoded.image.size == (4, 4)
    assert rgb_of(decoded, (2, 2)) == pytest.approx((255, 0, 0), abs=8)


# ---------------------------------------------------------------- orientation


def marked_image(width: int = 60, height: int = 40) -> Image.Image:
    """Grey with a red block at the top-left corner, so every orientation is tellable."""
    im = Image.new("RGB", (width, height), (128, 128, 128))
    side = min(width, height) // 4
    im.paste((255, 0, 0), (0, 0, side, side))
    return im


def with_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def test_exif_orientation_6_rotates_a_jpeg_clockwise() -> None:
    data = encode(marked_image(), "JPEG", quality=95, exif=with_orientation(6))
    decoded = decode(data, name="phone.jpg")
    assert (decoded.width, decoded.height) == (40, 60)
    assert decoded.image.size == (40, 60)
    # Displayed upright, the stored top-left corner is now the top-right corner.
    assert rgb_of(decoded, (34, 5))[0] > 200 and rgb_of(decoded, (34, 5))[1] < 60
    assert rgb_of(decoded, (5, 5)) == pytest.approx((128, 128, 128), abs=12)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillows_exif_transpose(orientation: int) -> None:
    data = encode(marked_image(), "PNG", exif=with_orientation(orientation))
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    decoded = decode(data)
    assert decoded.image.size == expected.size == (decoded.width, decoded.height)
    assert decoded.image.tobytes() == expected.tobytes()


def test_orientation_and_downscale_together() -> None:
    data = encode(marked_image(600, 400), "JPEG", quality=95, exif=with_orientation(8))
    decoded = decode(data, min_side=100)
    assert (decoded.width, decoded.height) == (400, 600)
    assert decoded.image.size == (100, 150)
    assert rgb_of(decoded, (5, 145))[0] > 200  # ROTATE_90: top-left goes to bottom-left


def test_avif_and_heif_orientation(chelsea: Image.Image, heif_saving: None) -> None:
    exif = with_orientation(6).tobytes()
    avif = encode(chelsea, "AVIF", speed=10, exif=exif)
    heif = encode(chelsea, "HEIF", quality=50, exif=exif)
    for data in (avif, heif):
        decoded = decode(data)
        assert (decoded.width, decoded.height) == (300, 451)
        expected = chelsea.transpose(Image.Transpose.ROTATE_270)
        assert mean_abs_diff(decoded.image, expected) < 10


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_broken_exif_is_ignored_not_fatal(chelsea: Image.Image) -> None:
    data = encode(chelsea, "JPEG", exif=b"Exif\x00\x00MM\x00*\xff\xff\xff\xff garbage")
    assert decode(data).image.size == CHELSEA_SIZE


# ---------------------------------------------------------------- modes


def test_fully_transparent_red_comes_out_white() -> None:
    im = Image.new("RGBA", (4, 2), (255, 0, 0, 0))
    im.putpixel((1, 0), (0, 0, 0, 255))
    im.putpixel((2, 0), (0, 0, 0, 128))
    for data in (encode(im, "PNG"), encode(im, "WEBP", lossless=True), encode(im, "TIFF")):
        decoded = decode(data)
        assert rgb_of(decoded, (0, 0)) == (255, 255, 255)
        assert rgb_of(decoded, (1, 0)) == (0, 0, 0)
        assert rgb_of(decoded, (2, 0)) == pytest.approx((127, 127, 127), abs=1)


def test_grey_with_alpha_is_composited_on_white() -> None:
    im = Image.new("LA", (2, 1), (0, 0))
    im.putpixel((1, 0), (40, 255))
    decoded = decode(encode(im, "PNG"))
    assert rgb_of(decoded, (0, 0)) == (255, 255, 255)
    assert rgb_of(decoded, (1, 0)) == (40, 40, 40)


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_and_without_transparency(fmt: str) -> None:
    im = Image.new("P", (2, 1), 0)
    im.putpalette([255, 0, 0, 0, 0, 255])
    im.putpixel((1, 0), 1)
    opaque = decode(encode(im, fmt))
    assert rgb_of(opaque, (0, 0)) == (255, 0, 0)
    assert rgb_of(opaque, (1, 0)) == (0, 0, 255)
    see_through = decode(encode(im, fmt, transparency=0))
    assert rgb_of(see_through, (0, 0)) == (255, 255, 255)
    assert rgb_of(see_through, (1, 0)) == (0, 0, 255)


def test_rgb_and_grey_png_with_a_transparent_colour_key() -> None:
    rgb = Image.new("RGB", (2, 1), (10, 20, 30))
    rgb.putpixel((1, 0), (1, 2, 3))
    decoded = decode(encode(rgb, "PNG", transparency=(10, 20, 30)))
    assert rgb_of(decoded, (0, 0)) == (255, 255, 255)
    assert rgb_of(decoded, (1, 0)) == (1, 2, 3)
    grey = Image.new("L", (2, 1), 7)
    grey.putpixel((1, 0), 90)
    decoded = decode(encode(grey, "PNG", transparency=7))
    assert rgb_of(decoded, (0, 0)) == (255, 255, 255)
    assert rgb_of(decoded, (1, 0)) == (90, 90, 90)


GRADIENT_16 = (np.arange(256, dtype=np.uint32) * 257).astype(np.uint16)[None, :].repeat(4, 0)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_grey_keeps_its_gradient(fmt: str) -> None:
    data = encode(Image.fromarray(GRADIENT_16), fmt)
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    row = np.asarray(decode(data).image)[0, :, 0]
    assert row.tolist() == list(range(256))  # 0..65535 mapped onto 0..255, not clipped to white


def test_16_bit_grey_with_a_transparent_key() -> None:
    values = np.array([[1000, 60000]], dtype=np.uint16)
    decoded = decode(encode(Image.fromarray(values), "PNG", transparency=1000))
    assert rgb_of(decoded, (0, 0)) == (255, 255, 255)
    assert rgb_of(decoded, (1, 0)) == (233, 233, 233)


def test_16_bit_rgb_png_and_tiff_keep_their_colours() -> None:
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 65536, size=(8, 12, 3), dtype=np.uint16)
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(8))
    tiff = io.BytesIO()
    tifffile.imwrite(tiff, pixels, photometric="rgb")
    expected = np.rint(pixels / 257.0)
    for data in (raw_png(12, 8, 16, 2, rows), tiff.getvalue()):
        got = np.asarray(decode(data).image, dtype=np.float64)
        assert np.abs(got - expected).max() <= 1


def test_32_bit_integer_and_float_tiffs_are_scaled_not_clipped() -> None:
    ints = Image.fromarray(GRADIENT_16.astype(np.int32))
    assert ints.mode == "I"
    row = np.asarray(decode(encode(ints, "TIFF")).image)[0, :, 0]
    assert row.tolist() == list(range(256))

    unit = Image.fromarray((np.arange(256, dtype=np.float32) / 255)[None, :].repeat(2, 0))
    assert unit.mode == "F"
    row = np.asarray(decode(encode(unit, "TIFF")).image)[0, :, 0]
    assert row.tolist() == list(range(256))

    signed = Image.fromarray(np.array([[-500.0, 0.0, 1500.0]], dtype=np.float32))
    row = np.asarray(decode(encode(signed, "TIFF")).image)[0, :, 0]
    assert row.tolist() == [0, 64, 255]  # stretched from its own range


def test_cmyk_jpeg_colour_comes_out_right() -> None:
    colour = (200, 40, 60)
    cmyk = Image.new("RGB", (16, 16), colour).convert("CMYK")
    data = encode(cmyk, "JPEG", quality=95)
    opened = Image.open(io.BytesIO(data))
    assert opened.mode == "CMYK" and "adobe" in opened.info  # Adobe's inverted CMYK
    decoded = decode(data)
    assert rgb_of(decoded, (8, 8)) == pytest.approx(colour, abs=6)


def test_grey_and_one_bit_images_become_rgb(chelsea: Image.Image) -> None:
    grey = decode(encode(chelsea.convert("L"), "JPEG"))
    array = np.asarray(grey.image)
    assert grey.image.mode == "RGB"
    assert (array[..., 0] == array[..., 1]).all() and (array[..., 1] == array[..., 2]).all()

    bits = Image.new("1", (3, 1), 0)
    bits.putpixel((1, 0), 1)
    decoded = decode(encode(bits, "PNG"))
    assert [rgb_of(decoded, (x, 0)) for x in range(3)] == [(0, 0, 0), (255, 255, 255), (0, 0, 0)]


def three_frames() -> list[Image.Image]:
    return [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "TIFF", "PNG"])
def test_animations_and_multipage_files_give_their_first_frame(fmt: str) -> None:
    first, *rest = three_frames()
    options: dict[str, Any] = {"save_all": True, "append_images": rest}
    if fmt == "WEBP":
        options["lossless"] = True
    data = encode(first, fmt, **options)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    assert rgb_of(decode(data), (4, 4)) == (255, 0, 0)


# ---------------------------------------------------------------- downscaling


@pytest.fixture
def draft_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records what Pillow's real JPEG draft mode returned (it still does its work)."""
    calls: list[Any] = []
    real = JpegImagePlugin.JpegImageFile.draft

    def spy(self: Any, mode: str | None, size: tuple[int, int] | None) -> Any:
        result = real(self, mode, size)
        calls.append(result)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    return calls


def test_draft_mode_decodes_a_large_jpeg_at_one_eighth(
    big_jpeg: bytes, draft_calls: list[Any]
) -> None:
    decoded = decode(big_jpeg, name="big.jpg", min_side=224)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert decoded.image.size == (299, 224)
    assert draft_calls == [("RGB", (0, 0, 500.0, 375.0))]  # libjpeg decoded 500x375, not 12 MP


def test_draft_scale_keeps_the_shorter_edge_at_least_min_side(
    big_jpeg: bytes, draft_calls: list[Any]
) -> None:
    decoded = decode(big_jpeg, min_side=1000)
    assert draft_calls == [("RGB", (0, 0, 2000.0, 1500.0))]  # 1/4 would give 750 < 1000
    assert decoded.image.size == (1333, 1000)
    decode(big_jpeg, min_side=375)
    assert draft_calls[-1] == ("RGB", (0, 0, 500.0, 375.0))


def test_no_draft_and_full_size_without_min_side(big_jpeg: bytes, draft_calls: list[Any]) -> None:
    decoded = decode(big_jpeg)
    assert draft_calls == []
    assert decoded.image.size == (4000, 3000)


def test_drafted_decode_looks_like_a_full_decode_resized(
    astronaut: Image.Image, draft_calls: list[Any]
) -> None:
    data = encode(astronaut.resize((2048, 2048)), "JPEG", quality=90)
    fast = decode(data, min_side=256).image
    assert draft_calls and draft_calls[0] is not None
    slow = decode(data).image.resize((256, 256), Image.Resampling.BICUBIC)
    assert mean_abs_diff(fast, slow) < 4


def test_a_direct_copy_is_one_resize_from_the_decoded_pixels(
    big_jpeg: bytes, draft_calls: list[Any]
) -> None:
    decoded = decode(big_jpeg, min_side=512, direct=(224,))
    assert draft_calls == [("RGB", (0, 0, 1000.0, 750.0))]  # the scale min_side needs
    assert decoded.image.size == (683, 512) and decoded.direct[224].size == (298, 224)
    drafted = Image.open(io.BytesIO(big_jpeg))
    drafted.draft("RGB", (1000, 750))
    once = drafted.convert("RGB").resize((298, 224), Image.Resampling.BICUBIC)
    assert decoded.direct[224].tobytes() == once.tobytes()  # not the 512 px image resized
    twice = decoded.image.resize((298, 224), Image.Resampling.BICUBIC)
    assert decoded.direct[224].tobytes() != twice.tobytes()


@pytest.mark.parametrize(
    ("fmt", "size", "orientation"),
    [
        ("JPEG", (2400, 1600), 1),
        ("JPEG", (2400, 1600), 6),
        ("JPEG", (1200, 1900), 8),
        ("PNG", (900, 700), 3),
        ("JPEG", (300, 200), 1),  # smaller than the shared image: nothing to resize
    ],
)
def test_a_direct_copy_alone_has_the_pixels_of_the_shared_decodes_copy(
    coffee: Image.Image, fmt: str, size: tuple[int, int], orientation: int
) -> None:
    """What a query decodes for the semantic signal alone (the DCT scale of the shared image,
    the copy made without the shared image) equals the copy an indexed image got beside it."""
    data = encode(coffee.resize(size), fmt, exif=with_orientation(orientation))
    shared = decode(data, min_side=512, direct=(224,))
    alone = decode(data, draft_side=512, direct=(224,))
    assert alone.image is alone.direct[224]  # the copy alone, no larger image kept
    assert alone.direct[224].tobytes() == shared.direct[224].tobytes()
    assert min(alone.image.size) == min(224, *shared.image.size)
    assert (alone.width, alone.height) == (shared.width, shared.height)
    split = decode(data, draft_side=512, direct=(224,), split=True)
    assert split.direct[224].tobytes() == shared.direct[224].tobytes()


def test_draft_side_is_for_one_direct_copy_without_min_side(big_jpeg: bytes) -> None:
    with pytest.raises(ValueError, match="draft_side"):
        decode(big_jpeg, min_side=512, draft_side=512, direct=(224,))
    with pytest.raises(ValueError, match="one direct copy"):
        decode(big_jpeg, draft_side=512, direct=(224, 128))
    with pytest.raises(ValueError, match="positive"):
        decode(big_jpeg, min_side=512, direct=(0,))


@pytest.mark.parametrize(("size", "expected"), [((600, 400), (150, 100)), ((400, 600), (100, 150))])
def test_other_formats_downscale_to_min_side_keeping_aspect(
    coffee: Image.Image, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    decoded = decode(encode(coffee.resize(size), "PNG", compress_level=1), min_side=100)
    assert decoded.image.size == expected
    assert (decoded.width, decoded.height) == size
    assert decode(encode(coffee, "PNG"), min_side=400).image.size == (600, 400)  # already there


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "HEIF", "WEBP"])
def test_decoding_is_deterministic(fmt: str, encoded: dict[str, bytes]) -> None:
    for min_side in (None, 224, 97):
        first = decode(encoded[fmt], min_side=min_side).image.tobytes()
        assert decode(encoded[fmt], min_side=min_side).image.tobytes() == first


# ---------------------------------------------------------------- bad input


def test_empty_bytes() -> None:
    expect(BadImage, b"", "empty.jpg", "empty file")


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is a text file\n" * 10,
        b"<!DOCTYPE html><html><head><title>404</title></head><body>nope</body></html>",
        random.Random(3).randbytes(4096),
        b'{"not": "an image"}',
    ],
    ids=["text", "html", "random", "json"],
)
def test_content_that_is_not_an_image(data: bytes) -> None:
    expect(BadImage, data, "upload-17", "not an image")


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
        (b"8BPS\x00\x01" + bytes(60), "PSD"),
        (b"\xff\x0a" + bytes(60), "JXL"),
    ],
)
def test_recognised_formats_we_do_not_decode(data: bytes, fmt: str) -> None:
    message = expect(UnsupportedFormat, data, "scan.bin", fmt.lower(), "not supported")
    assert "JPEG" in message  # says what is supported


def test_heic_without_pillow_heif_is_unsupported(
    encoded: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # makes `import pillow_heif` fail
    monkeypatch.setattr(images, "_heif_registered", False)
    expect(UnsupportedFormat, encoded["HEIF"], "IMG_0001.HEIC", "pillow-heif")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP"])
def test_files_cut_in_half_are_truncated(fmt: str, encoded: dict[str, bytes]) -> None:
    data = encoded[fmt]
    expect(BadImage, data[: len(data) // 2], f"half.{fmt.lower()}", "truncated")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "HEIF", "AVIF"])
def test_files_cut_inside_the_header(fmt: str, encoded: dict[str, bytes]) -> None:
    message = expect(BadImage, encoded[fmt][:24], "stub", "truncated")
    assert fmt in message


def test_corrupt_data_inside_a_valid_png_header(encoded: dict[str, bytes]) -> None:
    data = bytearray(encoded["PNG"])
    data[5000:5100] = bytes(100)
    expect(BadImage, bytes(data), "damaged.png", "corrupt", "png")


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the damaged TIFF tags
def test_mangled_files_only_ever_raise_lookalike_errors(heif_saving: None) -> None:
    """Random byte damage must never leak a raw Pillow, OS, syntax or value error."""
    rng = random.Random(11)
    base = Image.fromarray(skimage.data.astronaut()[::8, ::8])
    samples = [ENCODERS[fmt](base) for fmt in ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")]
    outcomes = {"ok": 0, "error": 0}
    for original in samples:
        for _ in range(25):
            data = bytearray(original)
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(min(len(data), 400))
                data[at] = rng.randrange(256)
            if rng.random() < 0.3:
                data = data[: rng.randrange(8, len(data))]
            try:
                decode(bytes(data), name="fuzz", min_side=rng.choice([None, 16]))
                outcomes["ok"] += 1
            except LookalikeError as exc:
                assert "fuzz" in str(exc)
                outcomes["error"] += 1
    assert outcomes["ok"] and outcomes["error"]  # the damage exercised both paths


# ---------------------------------------------------------------- size limits


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_decompression_bomb_png_is_refused_without_allocating() -> None:
    bomb = raw_png(30000, 30000, 8, 2, None)  # claims 2.7 GB of RGB; a few dozen bytes long
    before = peak_rss_mb()
    message = expect(ImageTooLarge, bomb, "bomb.png", "900,000,000")
    assert peak_rss_mb() - before < 100
    assert "over the limit of 100,000,000 pixels" in message  # the setting, not Pillow's limit


def test_a_pixel_limit_above_pillows_own_takes_effect() -> None:
    # 195M pixels: over Pillow's process-wide bomb error (2 x 89.5M), under the limit given.
    # The header is all there is, so the decode fails as a truncated image, not as a bomb.
    claims = raw_png(15000, 13000, 1, 0, None)
    expect(BadImage, claims, "wide.png", "wide.png", max_pixels=300_000_000)
    expect(ImageTooLarge, claims, "wide.png", "195,000,000", max_pixels=190_000_000)


def test_pixel_limit_is_checked_from_the_header() -> None:
    header_only = raw_png(9000, 9000, 8, 0, None)  # under Pillow's own limit, over ours
    message = expect(ImageTooLarge, header_only, "tall.png", "9000x9000", max_pixels=50_000_000)
    assert "50,000,000" in message


def test_pixel_limit_on_a_real_compressible_image() -> None:
    data = encode(Image.new("L", (4000, 3000), 0), "PNG", compress_level=1)
    expect(ImageTooLarge, data, "flat.png", "4000x3000", max_pixels=10_000_000)
    assert decode(data, min_side=30).image.size == (40, 30)


def test_jpeg_header_claiming_a_huge_size(encoded: dict[str, bytes]) -> None:
    data = bytearray(encoded["JPEG"])
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    expect(ImageTooLarge, bytes(data), "huge.jpg", "3,600,000,000")


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heif_and_avif_headers_are_checked_too(fmt: str, heif_saving: None) -> None:
    data = bytearray(ENCODERS[fmt](Image.new("RGB", (64, 64), (9, 99, 199))))
    at = data.index(b"ispe") + 8  # the image's spatial extents: width, height
    assert struct.unpack(">II", data[at : at + 8]) == (64, 64)
    data[at : at + 8] = struct.pack(">II", 9000, 9000)
    expect(ImageTooLarge, bytes(data), "huge", "9000x9000", max_pixels=50_000_000)


def test_pillows_own_bomb_check_no_longer_speaks() -> None:
    # lookalike checks every image against ``max_pixels`` itself, so Pillow's process-wide check
    # is off: no DecompressionBombWarning (it leaked to the CLI's stderr) and no Pillow number.
    over_pillow_warning = raw_png(10000, 10000, 8, 0, None)  # 1e8 > Pillow's ~8.9e7 warning
    assert Image.MAX_IMAGE_PIXELS is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expect(BadImage, over_pillow_warning, "w.png", "w.png", max_pixels=200_000_000)
        expect(ImageTooLarge, over_pillow_warning, "w.png", "100,000,000", max_pixels=50_000_000)


# ---------------------------------------------------------------- thumbnails


def test_thumbnail_is_a_jpeg_within_max_side(coffee: Image.Image) -> None:
    data = encode_thumbnail(coffee)
    assert sniff_format(data) == "JPEG"
    thumb = Image.open(io.BytesIO(data))
    assert thumb.format == "JPEG"
    assert thumb.size == (256, 171)
    assert mean_abs_diff(thumb.convert("RGB"), coffee.resize((256, 171))) < 8
    assert coffee.size == (600, 400)  # the caller's image is untouched


def test_thumbnail_options_and_small_and_transparent_inputs(astronaut: Image.Image) -> None:
    small = Image.open(io.BytesIO(encode_thumbnail(astronaut, max_side=64)))
    assert small.size == (64, 64)
    rough = encode_thumbnail(astronaut, quality=20)
    fine = encode_thumbnail(astronaut, quality=95)
    assert len(rough) < len(fine)
    tiny = Image.open(io.BytesIO(encode_thumbnail(Image.new("RGB", (10, 5)), max_side=256)))
    assert tiny.size == (10, 5)  # never enlarged
    clear = Image.open(io.BytesIO(encode_thumbnail(Image.new("RGBA", (8, 8), (255, 0, 0, 0)))))
    assert clear.convert("RGB").getpixel((4, 4)) == pytest.approx((255, 255, 255), abs=2)


def test_the_pixel_budget_bounds_concurrent_decodes() -> None:
    """Eight threads decoding 4-megapixel PNGs under a 9-megapixel budget: at most two decode at
    once, and none waits forever."""
    import threading

    from lookalike import images

    data = encode(Image.new("RGB", (2000, 2000), (10, 20, 30)), "PNG", compress_level=1)
    peak = 0
    lock = threading.Lock()
    real_finish = images._finish

    def watched(*args: Any, **kwargs: Any) -> DecodedImage:
        nonlocal peak
        with lock:
            peak = max(peak, images._budget.used)
        return real_finish(*args, **kwargs)

    images.set_pixel_budget(9_000_000)
    images._finish = watched  # type: ignore[assignment]
    try:
        threads = [threading.Thread(target=decode, args=(data,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
    finally:
        images._finish = real_finish  # type: ignore[assignment]
        images.set_pixel_budget(400_000_000)
    assert 4_000_000 <= peak <= 9_000_000
    assert images._budget.used == 0


def test_an_image_larger_than_the_whole_budget_still_decodes_alone() -> None:
    from lookalike import images

    images.set_pixel_budget(1_000_000)
    try:
        data = encode(Image.new("RGB", (2000, 1000), (1, 2, 3)), "PNG")
        assert decode(data).image.size == (2000, 1000)
    finally:
        images.set_pixel_budget(400_000_000)
