"""The duplicate signal: near-duplicates and copies.

- :mod:`.signal`: the perceptual hash, visual words and keypoints kept for every image, and
  its search (copies verified, or nearest hashes);
- :mod:`.hashes`: the 64-bit perceptual hash as a +-1 vector, and its calibration;
- :mod:`.localfeatures`: ORB keypoints, geometric verification and visual words;
- :mod:`.copies`: copy finding for one query (store candidates verified by local features);
- :mod:`.clusters`: the whole collection's near-duplicates grouped, with a keeper in each.
"""

from lookalike.signals.duplicate.hashes import (
    CALIBRATION,
    HASH_BITS,
    bits_to_vector,
    dihedral_hashes,
    hamming,
    phash_bits,
)
from lookalike.signals.duplicate.signal import DuplicatePrepared, DuplicateSignal, prepare

__all__ = [
    "CALIBRATION",
    "HASH_BITS",
    "DuplicatePrepared",
    "DuplicateSignal",
    "bits_to_vector",
    "dihedral_hashes",
    "hamming",
    "phash_bits",
    "prepare",
]
