"""Near-duplicates and copies: a 64-bit perceptual hash, visual words and local features.

The hash bits are stored as a +-1 vector, so the store's own cosine search ranks by Hamming
distance (cosine = 1 - 2 * hamming / 64); it catches recompressed and resized copies and needs
no model files. The visual words (a sparse vector) find heavily cropped copies; the keypoints,
kept compactly in the payload, let :mod:`.copies` verify a candidate geometrically.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import imagehash
import numpy as np
from PIL import Image

from lookalike.images import DecodedImage
from lookalike.scoring import Calibration
from lookalike.signals.duplicate.localfeatures import MIN_SIDE, extract, visual_words
from lookalike.store.base import SparseVector, Vector, VectorSpec

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

_DIHEDRAL: tuple[Image.Transpose | None, ...] = (
    None,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
)


@dataclass(frozen=True)
class DuplicatePrepared:
    """What a decode worker computes for the duplicate signal (picklable, a few KB)."""

    bits: bytes
    mirror_bits: bytes
    """The hash of the left-right mirror image: lets a record find its flipped copies."""
    features: bytes
    words: tuple[list[int], list[float]]


def phash_bits(image: Image.Image) -> bytes:
    """The 64 hash bits as bytes of 0/1."""
    bits = imagehash.phash(image, hash_size=8).hash.flatten()
    return bytes(bits.astype(np.uint8))


def prepare(decoded: DecodedImage) -> DuplicatePrepared:
    """Hash, keypoints and visual words of one image (runs in decode workers)."""
    features = extract(decoded.image)
    return DuplicatePrepared(
        phash_bits(decoded.image),
        phash_bits(decoded.image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        features.to_bytes(),
        visual_words(features),
    )


def dihedral_hashes(image: Image.Image) -> list[list[float]]:
    """The hash vectors of the image under its 4 rotations and 4 flips (the first: as given)."""
    return [
        bits_to_vector(phash_bits(image if t is None else image.transpose(t))) for t in _DIHEDRAL
    ]


def bits_to_vector(bits: bytes) -> list[float]:
    return [1.0 if b else -1.0 for b in bits]


def hamming(a: Sequence[float], b: Sequence[float]) -> int:
    """Hamming distance between two stored +-1 hash vectors."""
    return int(sum((x > 0) != (y > 0) for x, y in zip(a, b, strict=True)))


class DuplicateSignal:
    name = "duplicate"
    min_side = MIN_SIDE
    preparer = staticmethod(prepare)
    calibration = CALIBRATION
    model_id = f"phash-{HASH_BITS}+orb512-v1"

    def vector_specs(self) -> list[VectorSpec]:
        return [
            VectorSpec("duplicate", HASH_BITS, "cosine"),
            VectorSpec("duplicate_words", 0, sparse=True),
        ]

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        out: list[dict[str, Vector]] = []
        for p in prepared:
            vectors: dict[str, Vector] = {"duplicate": bits_to_vector(p.bits)}
            if p.words[0]:  # a featureless image has no words
                vectors["duplicate_words"] = SparseVector(list(p.words[0]), list(p.words[1]))
            out.append(vectors)
        return out

    def payload(self, prepared: Any) -> dict[str, Any]:
        return {
            "keypoints": base64.b64encode(prepared.features).decode("ascii"),
            "hash_mirror": prepared.mirror_bits.hex(),
        }
