"""The perceptual hash of the duplicate signal: 64 bits, stored as a +-1 vector.

The store's own cosine search then ranks by Hamming distance (cosine = 1 - 2 * hamming / 64);
a hash catches recompressed and resized copies and needs no model files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from lookalike.scoring import Calibration

HASH_BITS = 64

#: Knots in Hamming distance (0, 8, 11, 18, 32 bits of 64) on the raw cosine scale. Measured on
#: scikit-image's photos (tests/integration/test_scores.py): recompressed, resized, brightened
#: and re-encoded copies stay within 2 bits, a 95 % crop within 6; unrelated photos centre on
#: 32 bits and the closest of 275 unrelated pairs sits at 20, so 18 bits is where "related" ends.
#: The copy benchmark's 89 photos put the best of the 8 rotations/flips of an unrelated pair as
#: close as 14 bits, so a hash alone reaches the copy threshold (0.75) only within 11 bits.
CALIBRATION = Calibration.of(
    [(1 - 2 * h / HASH_BITS, s) for h, s in [(0, 1.0), (8, 0.9), (11, 0.75), (18, 0.6), (32, 0.0)]]
)

_HASH_SIDE = 32
"""imagehash's pHash: the image resized to 32 x 32 grey levels, the DCT's 8 x 8 low corner."""
DIHEDRAL_TURNS = 4
"""The first four of :func:`dihedral_hashes` are turns of the image as given; the last four are
of its mirror image."""


def phash_bits(image: Image.Image) -> bytes:
    """The 64 hash bits as bytes of 0/1."""
    return _phash_of(_grey_levels(image))


def record_hashes(image: Image.Image) -> tuple[bytes, bytes]:
    """A record's hash bits and those of its mirror image (which let it find its flipped copies),
    from one resize: the mirror of the 32 x 32 grey levels, as :func:`dihedral_hashes` turns
    them for a query."""
    small = _grey_levels(image)
    return _phash_of(small), _phash_of(np.ascontiguousarray(small[:, ::-1]))


def dihedral_hashes(image: Image.Image) -> list[list[float]]:
    """The hash vectors of the image under its :data:`DIHEDRAL_TURNS` rotations (the first: as
    given), then under the 4 flips (mirror images, alone or turned).

    The image is resized once and the 32 x 32 grey levels are turned, not the image: a turn
    commutes with the resize, so the bits are pHash's of the turned image (up to the rounding
    between the resize's two passes), at an eighth of the cost."""
    small = _grey_levels(image)
    turns = (
        small,
        np.rot90(small, 1),  # ROTATE_90 (counter-clockwise)
        np.rot90(small, 2),
        np.rot90(small, 3),
        small[:, ::-1],  # FLIP_LEFT_RIGHT
        small[::-1, :],  # FLIP_TOP_BOTTOM
        small.T,  # TRANSPOSE
        np.rot90(small, 2).T,  # TRANSVERSE
    )
    return [bits_to_vector(_phash_of(np.ascontiguousarray(t))) for t in turns]


def _grey_levels(image: Image.Image) -> np.ndarray:
    """pHash's input: the image as 32 x 32 grey levels (Lanczos, as imagehash resizes)."""
    return np.asarray(image.convert("L").resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.LANCZOS))


def _phash_of(pixels: np.ndarray) -> bytes:
    """imagehash.phash's bits from its 32 x 32 grey levels: the 8 x 8 lowest DCT-II terms
    (scipy's unnormalised DCT along both axes) against their median, a term within
    :data:`_TIE` of it (relative to the largest) counting as equal.

    A flat picture (a flag, a logo, a page) has terms that are zero but for rounding, and so is
    their median: "above the median" then follows the rounding of the DCT, which differs between
    two ways of computing it (imagehash's, the one here) and between CPUs' matrix kernels. Such
    a flag searched with its own file missed itself by 22 to 29 bits of 64 while records were
    hashed by imagehash and queries here; with ties counted alike the bits are the picture's."""
    dct = _DCT_LOW @ pixels.astype(np.float64) @ _DCT_LOW.T
    limit = np.median(dct) + _TIE * np.abs(dct).max()
    return bytes((dct > limit).astype(np.uint8).ravel())


_TIE = 1e-7
"""Relative size under which two DCT terms are taken as equal: far above the rounding of the
DCT (about 1e-15 of the largest term), far below what tells two photos' terms apart."""

_DCT_LOW = 2.0 * np.cos(
    np.pi * np.arange(8)[:, None] * (2 * np.arange(_HASH_SIDE)[None, :] + 1) / (2 * _HASH_SIDE)
)
"""The first 8 rows of the 32-point DCT-II matrix."""


def bits_to_vector(bits: bytes) -> list[float]:
    return [1.0 if b else -1.0 for b in bits]


def hamming(a: Sequence[float], b: Sequence[float]) -> int:
    """Hamming distance between two stored +-1 hash vectors."""
    return int(sum((x > 0) != (y > 0) for x, y in zip(a, b, strict=True)))


COLOUR_GRID = 4
"""Cells per side of :func:`colour_grid`."""


def colour_grid(image: Image.Image) -> bytes:
    """Mean colour of each cell of a 4 x 4 grid (48 bytes): tells apart flat graphics on one
    layout (a blue and a green band) that the grey-level hash sees as one picture."""
    small = image.convert("RGB").resize((COLOUR_GRID, COLOUR_GRID), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.uint8).tobytes()


COLOUR_LIMIT = 16.0
"""Largest :func:`colour_distance` of two images the hash alone may call one picture. Measured: a
copy recompressed at JPEG quality 40 differs by under 1, brightened by 30 % by 5-10, contrast
raised by 30 % by 5-8, made grey by 1-2.5, flipped by 0; a French and an Italian flag (0 bits
apart) by 24."""


def colours_differ(a: bytes | None, b: bytes | None) -> bool:
    """Whether two colour grids show two pictures (beyond :data:`COLOUR_LIMIT`); False when
    either is missing (records indexed before grids were kept: the hash decides alone)."""
    if a is None or b is None:
        return False
    distance = colour_distance(a, b)
    return distance is None or distance > COLOUR_LIMIT


def colour_distance(a: bytes, b: bytes) -> float | None:
    """Mean difference (0-255) between two colour grids, each taken relative to its own mean
    colour so that a brightened copy stays close, the smaller of as given and left-right
    mirrored (a flipped copy), in grey levels when either image is grey (a desaturated copy);
    None when either is missing or malformed."""
    size = COLOUR_GRID * COLOUR_GRID * 3
    if len(a) != size or len(b) != size:
        return None
    shape = (COLOUR_GRID, COLOUR_GRID, 3)
    ga = np.frombuffer(a, dtype=np.uint8).reshape(shape).astype(np.float32)
    gb = np.frombuffer(b, dtype=np.uint8).reshape(shape).astype(np.float32)
    if _grey(ga) or _grey(gb):
        ga, gb = ga.mean(axis=2, keepdims=True), gb.mean(axis=2, keepdims=True)
    ga -= ga.mean(axis=(0, 1))
    gb -= gb.mean(axis=(0, 1))
    return float(min(np.abs(ga - gb).mean(), np.abs(ga - gb[:, ::-1]).mean()))


def _grey(grid: np.ndarray) -> bool:
    return float((grid.max(axis=2) - grid.min(axis=2)).max()) < GREY_SPREAD


GREY_SPREAD = 12.0
"""A grid whose cells all have channels within this of each other is a grey image."""
