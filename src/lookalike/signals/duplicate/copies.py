"""Copy detection: candidates from the store's own searches, verified by local features.

Stage 1 asks the store for candidates in one batch: the query's perceptual hash under the eight
rotations and flips of the image, its bag of visual words (which survives heavy crops), and its
semantic vector when the collection has one. Stage 2 verifies at most ``max_verify`` of them
with keypoints + RANSAC against the keypoints stored at ingest, so a query never re-reads the
indexed files and its cost does not grow with the collection.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from PIL import Image

from lookalike import ranking
from lookalike.filters import Node
from lookalike.images import DecodedImage
from lookalike.priority import background_thread
from lookalike.ranking import best_first
from lookalike.scoring import reaches
from lookalike.signals.duplicate.hashes import CALIBRATION as HASH_CALIBRATION
from lookalike.signals.duplicate.hashes import HASH_BITS, bits_to_vector, dihedral_hashes
from lookalike.signals.duplicate.localfeatures import (
    COPY_THRESHOLD,
    QUERY_POINTS,
    LocalFeatures,
    Match,
    extract,
    extract_mirrored,
    verify,
)
from lookalike.stages import stage
from lookalike.store.base import CollectionStore, Hit, SparseVector, Vector, VectorQuery

MAX_VERIFY = 24
"""Candidates verified per query: bounds the query's cost whatever the collection's size."""
PER_QUERY = 12
"""Candidates asked of each store search."""
HASH_FLOOR = 0.5
"""Hash neighbours below this calibrated score are not worth a verification (unrelated photos
sit near 0); crops and other heavy edits reach verification through the visual words."""
CERTAIN = 1.0
"""A verification score nothing can beat (:data:`.localfeatures.CALIBRATION`'s top): once a
candidate reaches it, the mirrored query is not tried on it, and the candidates left are
verified only when their hash says they are copies too (the query's other copies)."""
CERTAIN_HASH = 0.9
"""Hash score (within 8 bits of 64) at which a candidate is verified even after a certain match:
a near-identical copy of the query, whose matched region the caller expects."""


@dataclass(frozen=True)
class CopyQuery:
    """What copy detection needs of one image, all computed from its decoded pixels."""

    hashes: Sequence[Sequence[float]]
    """+-1 pHash vectors of the image and of its rotations and flips (the first is as given)."""
    words: SparseVector | None
    features: LocalFeatures
    mirrored: LocalFeatures | None = None
    semantic: Sequence[float] | None = None
    image: Image.Image | None = None
    """The query image, whose mirrored keypoints are extracted when first needed (a copy that
    verifies as given with certainty never needs them) unless ``mirrored`` is given."""
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    _mirror: list[LocalFeatures] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def mirrored_features(self) -> LocalFeatures | None:
        """Keypoints of the mirrored query: ``mirrored``, else extracted once from ``image``."""
        if self.mirrored is not None or self.image is None:
            return self.mirrored
        with self._lock:
            if not self._mirror:
                self._mirror.append(extract_mirrored(self.image))
            return self._mirror[0]


@dataclass
class CopyHit:
    id: str
    score: float
    """max(calibrated hash score, verification score): on the shared [0, 1] scale."""
    hash_score: float
    payload: dict[str, Any]
    match: Match | None = None
    raw: dict[str, float] = field(default_factory=dict)
    hash_distance: int | None = None
    """Bits by which the closest of the query's hashes differs from the record's; None when the
    record was not among the hash neighbours."""

    def match_dict(self) -> dict[str, Any] | None:
        if self.match is None:
            return None
        m = self.match
        return {
            "inliers": m.inliers,
            "score": round(m.score, 6),
            "query_box": _rounded(m.query_box),
            "candidate_box": _rounded(m.candidate_box),
            "candidate_corners": [_rounded(c) for c in m.candidate_corners],
            "mirrored": m.mirrored,
        }


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(float(v), 4) + 0.0 for v in values]  # + 0.0 turns -0.0 into 0.0


def image_copy_query(decoded: DecodedImage, vectors: dict[str, Vector]) -> CopyQuery:
    """A copy query from a decoded query image: more keypoints than a record keeps (they cost
    nothing stored), and those of its mirror image (local features do not survive a flip)."""
    words = vectors.get("duplicate_words")
    semantic = vectors.get("semantic")
    return CopyQuery(
        hashes=dihedral_hashes(decoded.image),
        words=words if isinstance(words, SparseVector) else None,
        features=extract(decoded.image, max_points=QUERY_POINTS),
        image=decoded.image,
        semantic=semantic if isinstance(semantic, list) else None,
    )


def record_copy_query(payload: dict[str, Any], vectors: dict[str, Vector]) -> CopyQuery | None:
    """A copy query from an indexed record's stored hash, words and keypoints."""
    features = stored_features(payload)
    hash_vector = vectors.get("duplicate")
    if features is None or not isinstance(hash_vector, list):
        return None
    words = vectors.get("duplicate_words")
    semantic = vectors.get("semantic")
    hashes = [hash_vector]
    mirror = payload.get("hash_mirror")
    if isinstance(mirror, str) and len(mirror) == 2 * HASH_BITS:
        hashes.append(bits_to_vector(bytes.fromhex(mirror)))
    return CopyQuery(
        hashes=hashes,
        words=words if isinstance(words, SparseVector) else None,
        features=features,
        semantic=semantic if isinstance(semantic, list) else None,
    )


def stored_features(payload: dict[str, Any]) -> LocalFeatures | None:
    blob = payload.get("keypoints")
    if not isinstance(blob, str):
        return None
    try:
        return LocalFeatures.from_bytes(base64.b64decode(blob))
    except ValueError:  # written by another version, or damaged: verify without it
        return None


def find_copies(
    store: CollectionStore,
    query: CopyQuery,
    *,
    limit: int,
    filter: Node | None = None,
    threshold: float | None = None,
    max_verify: int = MAX_VERIFY,
    verify_below: float | None = None,
    early_exit: bool = True,
) -> list[CopyHit]:
    """Best copies of the query image in ``store``, best first.

    ``verify_below``: skip verifying candidates whose hash score already reaches it (for bulk
    work that needs the decision, not the matched region). ``early_exit``: stop verifying once a
    candidate is certain (:data:`CERTAIN`); off, every chosen candidate is verified."""
    searches = [VectorQuery("duplicate", list(h)) for h in query.hashes]
    if query.words is not None and query.words.indices:
        searches.append(VectorQuery("duplicate_words", query.words))
    if query.semantic is not None:
        searches.append(VectorQuery("semantic", list(query.semantic)))
    n_hash = len(query.hashes)
    floors = [HASH_CALIBRATION.inverse(COPY_THRESHOLD)] * n_hash + [None] * (len(searches) - n_hash)
    results = ranking.search_batch(
        store, searches, limit=max(PER_QUERY, limit), filter=filter, settle_from=floors
    )
    hash_raw: dict[str, float] = {}
    for hits in results[:n_hash]:
        for h in hits:
            hash_raw[h.id] = max(hash_raw.get(h.id, -1.0), h.score)
    # Worth verifying: hash hits at least "related", and the word and semantic neighbours.
    strong = [[h for h in hits if HASH_CALIBRATION(h.score) >= HASH_FLOOR] for hits in results]
    worth = _interleave(strong[:n_hash] + results[n_hash:])[:max_verify]
    chosen = {h.id for h in worth}
    rest = [h for h in _interleave(results) if h.id not in chosen]
    found: list[CopyHit] = []
    to_verify: list[tuple[CopyHit, LocalFeatures]] = []
    for hit in (worth + rest)[: max(len(worth), limit)]:
        raw = hash_raw.get(hit.id)
        hash_score = HASH_CALIBRATION(-1.0 if raw is None else raw)
        copy = CopyHit(hit.id, hash_score, hash_score, hit.payload)
        if raw is not None:
            copy.hash_distance = round((1.0 - raw) * HASH_BITS / 2)
        needed = verify_below is None or hash_score < verify_below
        features = stored_features(hit.payload) if hit.id in chosen and needed else None
        if features is not None:
            to_verify.append((copy, features))
        found.append(copy)
    with stage("verify"):
        _verify(query, to_verify, early_exit=early_exit)
    return [c for c in best_first(found) if reaches(c.score, threshold)][:limit]


def _verify(
    query: CopyQuery, to_verify: list[tuple[CopyHit, LocalFeatures]], *, early_exit: bool
) -> None:
    """Verify the candidates in their order (the best of each store search first), as many at
    once as there are cores (OpenCV releases the GIL), and stop once one is certain: the rest
    cannot beat it, and those whose hash makes them copies too are still verified."""
    pool, width = _verifier()
    left = list(to_verify)
    certain = False
    while left:
        if certain:
            left = [pair for pair in left if pair[0].hash_score >= CERTAIN_HASH]
        chunk, left = left[:width], left[width:]
        matches = pool.map(lambda pair: _best_match(query, pair[1]), chunk)
        for (copy, _), match in zip(chunk, matches, strict=True):
            copy.match = match
            if match is not None:
                copy.score = max(copy.score, match.score)
                certain = certain or (early_exit and match.score >= CERTAIN)


@cache
def _verifier() -> tuple[ThreadPoolExecutor, int]:
    """The verification pool every query shares, and its width."""
    width = os.cpu_count() or 1
    pool = ThreadPoolExecutor(width, thread_name_prefix="verify", initializer=background_thread)
    return pool, width


def _best_match(query: CopyQuery, features: LocalFeatures) -> Match | None:
    best = verify(query.features, features)
    if best is not None and best.score >= CERTAIN:
        return best  # the mirrored query can only tie
    mirrored = query.mirrored_features()
    if mirrored is not None:
        flipped = verify(mirrored, features)
        if flipped is not None and (best is None or flipped.score > best.score):
            best = flipped
    return best


def _interleave(lists: Sequence[Sequence[Hit]]) -> list[Hit]:
    """Round-robin over the candidate lists, best first in each, without repeats."""
    seen: set[str] = set()
    out: list[Hit] = []
    for rank in range(max((len(x) for x in lists), default=0)):
        for hits in lists:
            if rank < len(hits) and hits[rank].id not in seen:
                seen.add(hits[rank].id)
                out.append(hits[rank])
    return out
