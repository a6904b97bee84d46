"""The duplicate signal's perceptual hash under the query's rotations and flips."""

from __future__ import annotations

import imagehash
import pytest
from PIL import Image, ImageDraw

from lookalike.signals.duplicate import bits_to_vector, dihedral_hashes, phash_bits
from lookalike.signals.duplicate.hashes import DIHEDRAL_TURNS, record_hashes
from tests.support.samples import PHOTO_NAMES, photo

TURNS = (
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
)


def distance(a: list[float], b: list[float]) -> int:
    return sum((x > 0) != (y > 0) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", PHOTO_NAMES[:6])
def test_each_dihedral_hash_is_the_hash_of_the_turned_image(name: str) -> None:
    im = photo(name)
    hashes = dihedral_hashes(im)
    assert hashes[0] == bits_to_vector(phash_bits(im))  # as given: exactly the stored hash
    for turn, got in zip(TURNS, hashes[1:], strict=True):
        expected = bits_to_vector(phash_bits(im.transpose(turn)))
        # the resize's rounding between its passes may move a term across the median
        assert distance(got, expected) <= 4, turn
    # and the turns are told apart: the 8 hashes are not one
    assert len({tuple(h) for h in hashes}) >= 4


def _bands(colours: tuple[str, str, str], down: bool) -> Image.Image:
    im = Image.new("RGB", (600, 400))
    draw = ImageDraw.Draw(im)
    for n, colour in enumerate(colours):
        box = (n * 200, 0, (n + 1) * 200, 400) if down else (0, n * 133, 600, (n + 1) * 133)
        draw.rectangle(box, fill=colour)
    return im


@pytest.mark.parametrize("down", [True, False])
def test_a_flat_picture_hashes_as_the_reference_phash_whichever_way_it_is_hashed(
    down: bool,
) -> None:
    """A flag's DCT terms are zero but for rounding, and so is their median: the bits must be
    the picture's, not the rounding's, alike for a record, a query and imagehash's pHash."""
    for colours in [("#0055a4", "#ffffff", "#ef4135"), ("#000000", "#dd0000", "#ffce00")]:
        im = _bands(colours, down)
        reference = bytes(imagehash.phash(im, hash_size=8).hash.flatten().astype("uint8"))
        stored, stored_mirror = record_hashes(im)
        assert stored == phash_bits(im) == reference
        query = dihedral_hashes(im)
        assert query[0] == bits_to_vector(stored)
        assert query[DIHEDRAL_TURNS] == bits_to_vector(stored_mirror)  # the mirror, as given
    for name in PHOTO_NAMES[:6]:
        im = photo(name)
        reference = bytes(imagehash.phash(im, hash_size=8).hash.flatten().astype("uint8"))
        assert phash_bits(im) == reference
