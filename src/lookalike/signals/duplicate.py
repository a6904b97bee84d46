"""Near-duplicates by a 64-bit perceptual hash (DCT pHash).

The hash bits are stored as a +-1 vector, so the store's own cosine search ranks by Hamming
distance: cosine = 1 - 2 * hamming / 64. It needs no model files and runs fully offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import imagehash
import numpy as np

from lookalike.images import DecodedImage
from lookalike.scoring import Calibration
from lookalike.store.base import VectorSpec

HASH_BITS = 64

#: Knots in Hamming distance (0, 8, 14, 18, 32 bits of 64) on the raw cosine scale. Measured on
#: scikit-image's photos (tests/integration/test_scores.py): recompressed, resized, brightened
#: and re-encoded copies stay within 2 bits, a 95 % crop within 6; unrelated photos centre on
#: 32 bits and the closest of 275 unrelated pairs sits at 20, so 18 bits is where "related" ends.
CALIBRATION = Calibration.of(
    [(1 - 2 * h / HASH_BITS, s) for h, s in [(0, 1.0), (8, 0.9), (14, 0.75), (18, 0.6), (32, 0.0)]]
)


def phash_bits(decoded: DecodedImage) -> bytes:
    """The 64 hash bits as bytes of 0/1 (runs in decode workers)."""
    bits = imagehash.phash(decoded.image, hash_size=8).hash.flatten()
    return bytes(bits.astype(np.uint8))


def bits_to_vector(bits: bytes) -> list[float]:
    return [1.0 if b else -1.0 for b in bits]


def hamming(a: Sequence[float], b: Sequence[float]) -> int:
    """Hamming distance between two stored +-1 hash vectors."""
    return int(sum((x > 0) != (y > 0) for x, y in zip(a, b, strict=True)))


class DuplicateSignal:
    name = "duplicate"
    min_side = 128
    preparer = staticmethod(phash_bits)
    calibration = CALIBRATION
    model_id = f"phash-{HASH_BITS}"

    def vector_specs(self) -> list[VectorSpec]:
        return [VectorSpec("duplicate", HASH_BITS, "cosine")]

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, list[float]]]:
        return [{"duplicate": bits_to_vector(bits)} for bits in prepared]
