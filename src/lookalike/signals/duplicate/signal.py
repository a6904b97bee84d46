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

from lookalike.admission import copy_searches
from lookalike.filters import HasIds, Not
from lookalike.images import DecodedImage
from lookalike.payload import KEYPOINTS
from lookalike.signals.base import Found, SignalQuery
from lookalike.signals.duplicate.copies import find_copies, image_copy_query, record_copy_query
from lookalike.signals.duplicate.hashes import (
    CALIBRATION,
    HASH_BITS,
    bits_to_vector,
    colour_grid,
    phash_bits,
    record_hashes,
)
from lookalike.signals.duplicate.localfeatures import MIN_SIDE, extract, visual_words
from lookalike.signals.nearest import narrow, nearest, other_scores
from lookalike.stages import stage
from lookalike.store.base import SparseVector, Vector, VectorSpec


@dataclass(frozen=True)
class DuplicatePrepared:
    """What a decode worker computes for the duplicate signal (picklable, a few KB)."""

    bits: bytes
    mirror_bits: bytes
    """The hash of the left-right mirror image: lets a record find its flipped copies."""
    features: bytes
    words: tuple[list[int], list[float]]
    colours: bytes = b""
    """:func:`.hashes.colour_grid`: checks a link made by the hash alone."""


def prepare(decoded: DecodedImage) -> DuplicatePrepared:
    """Hash, keypoints and visual words of one image (runs in decode workers)."""
    features = extract(decoded.image)
    return DuplicatePrepared(
        *record_hashes(decoded.image),
        features.to_bytes(),
        visual_words(features),
        colour_grid(decoded.image),
    )


class DuplicateSignal:
    name = "duplicate"
    min_side = MIN_SIDE
    preparer = staticmethod(prepare)
    calibration = CALIBRATION
    takes = frozenset({"image", "id", "vector", "examples"})
    text_calibration = None
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
            KEYPOINTS: base64.b64encode(prepared.features).decode("ascii"),
            "hash_mirror": prepared.mirror_bits.hex(),
            "colours": prepared.colours.hex(),
        }

    def score_vectors(self, query: SignalQuery) -> dict[str, Vector]:
        """The perceptual hash alone (a few ms): the keypoints and words only a copy search
        needs are left out. None when the query has not decoded the shared image and does not
        ask for this score (``scores``): a semantic query in a collection of ``direct`` input
        decodes nothing that large."""
        if query.decoded_yet() is None and self.name not in query.query.scores:
            return {}
        return {"duplicate": bits_to_vector(phash_bits(query.decoded.image))}

    def search(self, query: SignalQuery, limit: int) -> list[Found]:
        """Copies of the query image or record: store candidates verified by local features,
        each with its matched region. Raw vectors and examples: nearest hashes.

        Copy searches take turns (:func:`lookalike.admission.copy_searches`): a few verify at
        once, the next wait in arrival order before their image is even decoded, more are
        refused with Busy."""
        q = query.query
        if q.positive or q.negative or (q.image is None and q.id is None):
            return nearest(query, self, query.vectors(self), self.calibration, limit)
        settings = query.settings
        with copy_searches(settings.copy_searches, settings.copy_queue).hold():
            return self._copies(query, limit)

    def _copies(self, query: SignalQuery, limit: int) -> list[Found]:
        q = query.query
        copy = None
        if q.image is not None:
            # The semantic embedding (when the collection has one) runs beside the keypoints,
            # and the copy search waits for it only when it searches by it.
            vectors_soon = query.score_vectors_soon(self)

            def semantic() -> list[float] | None:
                vector = vectors_soon().get("semantic")
                return vector if isinstance(vector, list) else None

            with stage("embed"):
                copy = image_copy_query(query.decoded, semantic)
        else:
            vectors = query.vectors(self)
            vectors_soon = lambda: vectors  # noqa: E731 - the same call as the image branch's
            if self.name in vectors and query.record is not None:
                copy = record_copy_query(query.record.payload, vectors)
        if copy is None:
            return nearest(query, self, vectors_soon(), self.calibration, limit)
        node = query.filter
        if q.id is not None:
            node = narrow(node, Not(HasIds((q.id,))))
        copies = find_copies(
            query.store,
            copy,
            limit=limit,
            filter=node,
            threshold=q.threshold,
            second_round=query.settings.copy_second_round,
        )
        found = [
            Found(c.id, c.score, c.payload, {self.name: c.score}, c.match_dict()) for c in copies
        ]
        other_scores(query, self, vectors_soon(), found)
        return found
