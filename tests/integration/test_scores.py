"""The duplicate calibration, measured on real photos through the real decode path.

Each of the 8 sample photos is stored as a JPEG (quality 90, at most 512 px, as the ``photo_files``
fixture builds it) and hashed the way ingest and search hash it: ``images.decode(data,
min_side=DuplicateSignal.min_side)`` then ``phash_bits``. Its near-copies are made from that file.
Hamming distances in bits of 64 (cosine = 1 - 2 * hamming / 64), measured here:

    transform                          n   min  median  max   lowest score
    JPEG quality 30                    8     0       0    2   0.975
    resized to 50 % (JPEG q90)         8     0       0    2   0.975
    resized to 25 % (JPEG q90)         8     0       0    2   0.975
    brightness +10 % (JPEG q90)        8     0       0    2   0.975
    PNG re-encode                      8     0       0    2   0.975
    centred crop, 95 % of the area     8     2       2    6   0.925
    different photos (all pairs)      28    20      32   38   0.600 (highest)

Every distance is even: pHash thresholds 64 DCT coefficients at their median, so every hash has
exactly 32 bits set. These figures place the knots of ``duplicate.CALIBRATION`` (0, 8, 14, 20 and
32 bits for 1.0, 0.9, 0.75, 0.6 and 0.0): copies stay far inside 8 bits and unrelated photos centre
on 32. The closest unrelated pair, hubble_deep_field / retina (two mostly dark frames), sits at
exactly 20 bits, on the 0.6 knot itself, so it scores 0.60, "related": the different-photos test
below fails on that pair until the 0.6 knot moves below 20 bits. (Over all 275 unrelated pairs of
the 24 photos scikit-image ships, measured once outside this file, 3 sit at 20 bits, 1 at 22 and
none below.)
"""

from __future__ import annotations

import io
import itertools
import math
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from lookalike.images import decode
from lookalike.signals.duplicate import HASH_BITS, DuplicateSignal, bits_to_vector, phash_bits
from tests.support.encoded import encode
from tests.support.samples import PHOTO_NAMES

SAME_PHOTO = 0.90
RELATED = 0.60


def _scaled(im: Image.Image, factor: float) -> Image.Image:
    size = (round(im.width * factor), round(im.height * factor))
    return im.resize(size, Image.Resampling.LANCZOS)


def _cropped(im: Image.Image, area: float) -> Image.Image:
    side = math.sqrt(area)
    w, h = round(im.width * side), round(im.height * side)
    left, top = (im.width - w) // 2, (im.height - h) // 2
    return im.crop((left, top, left + w, top + h))


TRANSFORMS: dict[str, Callable[[Image.Image], bytes]] = {
    "JPEG quality 30": lambda im: encode(im, "JPEG", quality=30),
    "resized to 50 % (JPEG q90)": lambda im: encode(_scaled(im, 0.5), "JPEG", quality=90),
    "resized to 25 % (JPEG q90)": lambda im: encode(_scaled(im, 0.25), "JPEG", quality=90),
    "brightness +10 % (JPEG q90)": lambda im: encode(
        ImageEnhance.Brightness(im).enhance(1.1), "JPEG", quality=90
    ),
    "PNG re-encode": lambda im: encode(im, "PNG"),
    "centred crop, 95 % of the area": lambda im: encode(_cropped(im, 0.95), "JPEG", quality=90),
}
DIFFERENT = "different photos (all pairs)"


def _hash(data: bytes) -> bytes:
    """The hash exactly as ingest and search compute it."""
    return phash_bits(decode(data, min_side=DuplicateSignal.min_side).image)


def _hamming(a: bytes, b: bytes) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def _score(a: bytes, b: bytes) -> float:
    """The calibrated score of the store's raw cosine between two stored hash vectors."""
    raw = float(np.dot(bits_to_vector(a), bits_to_vector(b))) / HASH_BITS
    assert raw == 1 - 2 * _hamming(a, b) / HASH_BITS
    return DuplicateSignal.calibration(raw)


@pytest.fixture(scope="module")
def originals(photo_files: Path) -> dict[str, bytes]:
    return {name: (photo_files / f"{name}.jpg").read_bytes() for name in PHOTO_NAMES}


@pytest.fixture(scope="module")
def hashes(originals: dict[str, bytes]) -> dict[str, bytes]:
    return {name: _hash(data) for name, data in originals.items()}


@pytest.fixture(scope="module")
def copies(originals: dict[str, bytes]) -> dict[str, dict[str, bytes]]:
    """Transform -> photo name -> hash of that photo's near-copy."""
    sources = {
        name: Image.open(io.BytesIO(data)).convert("RGB") for name, data in originals.items()
    }
    return {
        kind: {name: _hash(make(im)) for name, im in sources.items()}
        for kind, make in TRANSFORMS.items()
    }


@pytest.fixture(scope="module")
def distances(
    hashes: dict[str, bytes], copies: dict[str, dict[str, bytes]]
) -> dict[str, dict[str, int]]:
    """Transform (or DIFFERENT) -> photo (or photo pair) -> Hamming distance; printed with -s."""
    table = {
        kind: {name: _hamming(hashes[name], h) for name, h in by_name.items()}
        for kind, by_name in copies.items()
    }
    table[DIFFERENT] = {
        f"{a} / {b}": _hamming(hashes[a], hashes[b])
        for a, b in itertools.combinations(PHOTO_NAMES, 2)
    }
    print(f"\nHamming distance (bits of {HASH_BITS})")
    print(f"{'transform':<34}{'n':>3}{'min':>6}{'median':>8}{'max':>5}   score at min / max")
    for kind, row in table.items():
        d = list(row.values())
        at = [DuplicateSignal.calibration(1 - 2 * h / HASH_BITS) for h in (min(d), max(d))]
        print(
            f"{kind:<34}{len(d):>3}{min(d):>6}{statistics.median(d):>8g}{max(d):>5}"
            f"   {at[0]:.3f} / {at[1]:.3f}"
        )
    return table


def test_every_hash_has_half_its_bits_set(hashes: dict[str, bytes]) -> None:
    # Why every distance is even, and why unrelated photos centre on 32 bits.
    assert {sum(h) for h in hashes.values()} == {HASH_BITS // 2}


def test_the_same_bytes_score_1(originals: dict[str, bytes], hashes: dict[str, bytes]) -> None:
    for name, data in originals.items():
        assert _score(hashes[name], _hash(data)) == 1.0


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_near_copies_score_as_the_same_photo(
    kind: str,
    hashes: dict[str, bytes],
    copies: dict[str, dict[str, bytes]],
    distances: dict[str, dict[str, int]],
) -> None:
    # All six kinds, the 95 % crop included, measure at most 6 bits (score >= 0.925): none needs
    # the weaker "very similar" band.
    scores = {name: _score(hashes[name], h) for name, h in copies[kind].items()}
    assert min(scores.values()) >= SAME_PHOTO, (scores, distances[kind])


def test_different_photos_score_below_related(
    hashes: dict[str, bytes], distances: dict[str, dict[str, int]]
) -> None:
    scores = {
        f"{a} / {b}": _score(hashes[a], hashes[b])
        for a, b in itertools.combinations(PHOTO_NAMES, 2)
    }
    too_high = {pair: (s, distances[DIFFERENT][pair]) for pair, s in scores.items() if s >= RELATED}
    assert not too_high, f"different photos scored as related (score, bits): {too_high}"


def test_every_copy_ranks_above_every_different_photo(
    distances: dict[str, dict[str, int]],
) -> None:
    farthest_copy = max(max(row.values()) for kind, row in distances.items() if kind != DIFFERENT)
    assert farthest_copy < min(distances[DIFFERENT].values())
