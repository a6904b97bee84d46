"""The duplicate signal's perceptual hash under the query's rotations and flips."""

from __future__ import annotations

import pytest
from PIL import Image

from lookalike.signals.duplicate import bits_to_vector, dihedral_hashes, phash_bits
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
