"""Copy detection: candidates from the store's own searches, verified by local features.

Stage 1 asks the store for candidates in one batch: the query's perceptual hash under the eight
rotations and flips of the image, its bag of visual words (which survives heavy crops), and its
semantic vector when the collection has one. Stage 2 verifies at most ``max_verify`` of them
with keypoints + RANSAC against the keypoints stored at ingest, so a query never re-reads the
indexed files and its cost does not grow with the collection.

Verification is the query's cost (a few ms a candidate), so it goes where the evidence points:
to the candidates a search ranks as likely copies (a hash within the copy distance, the first
visual-word and semantic neighbours, the nearest hash), each in the orientation it was found in
(keypoints are not mirror-invariant, so a candidate found by a flipped hash is matched with the
mirrored keypoints, one found by words with the query's own); the others keep their hash
score. A query without copies (most uploads a platform checks) thus matches a handful of
candidates, not 24 twice (``benchmarks/copy_throughput.py``: 3x the queries a second), then
the other visual-word neighbours the search returned, where a small crop's original often is.
Where nothing verifies, the record the visual words single out ranks first among the non-copies
(:data:`WORD_LEAD`), not the nearest hash, which says nothing of a crop.
"""

from __future__ import annotations

import base64
import contextvars
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from PIL import Image

from lookalike import ranking
from lookalike.filters import Node
from lookalike.images import DecodedImage
from lookalike.payload import KEYPOINTS
from lookalike.priority import BackgroundPool
from lookalike.ranking import best_first
from lookalike.scoring import reaches
from lookalike.signals.duplicate.hashes import CALIBRATION as HASH_CALIBRATION
from lookalike.signals.duplicate.hashes import (
    DIHEDRAL_TURNS,
    HASH_BITS,
    bits_to_vector,
    colour_grid,
    colours_differ,
    dihedral_hashes,
)
from lookalike.signals.duplicate.localfeatures import (
    COPY_THRESHOLD,
    LocalFeatures,
    Match,
    extract_mirrored,
    extract_query,
    verify,
    visual_words,
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
FIRST_WORDS = 5
"""Visual-word neighbours verified first. Measured on ``benchmarks/copy_throughput.py``'s 216
copies among 10,000 images: of the 201 whose original the words found at all (top 12), 198 had
it first and 3 fourth or fifth."""
MORE_WORDS = PER_QUERY
"""Visual-word neighbours verified, in a second round, when the first found no copy: a small
crop's original is often among them but not in the first :data:`FIRST_WORDS` (measured on
``benchmarks/copy_detection.py``'s 20 % crops: ranks 6 to 12 held 1 original of 40, of 15 %
crops 3, of 10 % crops 6; docs/duplicates.md)."""
FIRST_SEMANTIC = 2
"""Semantic neighbours verified first."""
WORD_LEAD = 2.0
"""The least ratio of the first visual-word neighbour's score to the second's at which the
words alone single it out: a ratio test over the collection rather than over descriptors."""
WORD_LEAD_SCORE = 0.69
"""The score of the record the words single out when nothing verifies it: above any hash of
two unrelated pictures (0.686 at 14 bits, :data:`.localfeatures.CALIBRATION`'s note), below any
verified match (0.70 at 5 inliers) and so below a copy's threshold. A crop of a repeating
pattern (a chessboard, bricks), whose true matches the descriptor ratio test drops, then ranks
its original first rather than a photo whose hash happens to be nearest (docs/duplicates.md)."""
LOOK_ALIKE = HASH_CALIBRATION(HASH_CALIBRATION.inverse(COPY_THRESHOLD) - 2 / HASH_BITS)
"""The most a hash alone scores a record whose colours differ from the query's
(:func:`.hashes.colours_differ`): that of a hash one bit past the copy distance, so a flag in
other colours stays below the copy threshold while still ranked as alike."""


@dataclass(frozen=True)
class CopyQuery:
    """What copy detection needs of one image: its hashes, and its keypoints and visual words
    given or being extracted from ``image`` (beside the hash searches)."""

    hashes: Sequence[Sequence[float]]
    """+-1 pHash vectors of the image and of its rotations and flips (the first is as given)."""
    words: SparseVector | None = None
    features: LocalFeatures | None = None
    mirrored_hashes: int = 0
    """How many of ``hashes``, at their end, are of the mirrored image (a flip, alone or turned):
    a candidate found only by them is matched with the mirrored keypoints."""
    mirrored: LocalFeatures | None = None
    semantic: Sequence[float] | Callable[[], Sequence[float] | None] | None = None
    """The semantic vector, or a function that waits for it (computed beside the keypoints)."""
    colours: bytes | None = None
    """The image's colour grid (:func:`.hashes.colour_grid`): the hash sees grey levels, so two
    flat graphics on one layout in other colours (two flags of three bands) hash alike, and a
    hash alone then makes no copy."""
    image: Image.Image | None = None
    """The query image: its mirrored keypoints are extracted from it when first needed (a copy
    that verifies as given with certainty never needs them) unless ``mirrored`` is given."""
    extracting: Future[tuple[LocalFeatures, SparseVector | None]] | None = None
    """The extraction of ``image``'s own keypoints and words, under way since the query was
    made (:func:`image_copy_query`); without it, ``features`` and ``words`` are the query's."""
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    _made: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def local(self) -> tuple[LocalFeatures | None, SparseVector | None]:
        """The keypoints to verify with and the visual words to search by: those being
        extracted from the image, else as given."""
        if self.extracting is not None:
            return self.extracting.result()
        return self.features, self.words

    @property
    def can_mirror(self) -> bool:
        """Whether the query has (or can extract) mirrored keypoints."""
        return self.mirrored is not None or self.image is not None

    def mirrored_features(self) -> LocalFeatures | None:
        """Keypoints of the mirrored query: ``mirrored``, else extracted once from ``image``."""
        if self.mirrored is not None or self.image is None:
            return self.mirrored
        with self._lock:
            if "mirrored" not in self._made:
                self._made["mirrored"] = extract_mirrored(self.image)
            mirrored: LocalFeatures = self._made["mirrored"]
            return mirrored


@dataclass
class CopyHit:
    id: str
    score: float
    """max(hash score, verification score) on the shared [0, 1] scale; the hash score held at
    :data:`LOOK_ALIKE` when the colours differ; at least :data:`WORD_LEAD_SCORE` for the record
    the visual words single out."""
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


def image_copy_query(
    decoded: DecodedImage,
    semantic: Sequence[float] | Callable[[], Sequence[float] | None] | None = None,
) -> CopyQuery:
    """A copy query from a decoded query image: its hashes, and beside them and their searches
    (in the verification pool) its keypoints, more than a record keeps (they cost nothing
    stored), and visual words."""
    image = decoded.image
    extracting = _verifier()[0].submit(contextvars.copy_context().run, _local, image)
    hashes = dihedral_hashes(image)
    return CopyQuery(
        hashes=hashes,
        mirrored_hashes=len(hashes) - DIHEDRAL_TURNS,
        colours=colour_grid(image),
        image=image,
        semantic=semantic,
        extracting=extracting,
    )


def _local(image: Image.Image) -> tuple[LocalFeatures, SparseVector | None]:
    """A query image's keypoints to verify with and its visual words to search by, from one
    extraction (:func:`.localfeatures.extract_query`)."""
    features, record_like = extract_query(image)
    indices, values = visual_words(record_like)
    return features, SparseVector(indices, values) if indices else None


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
        mirrored_hashes=len(hashes) - 1,
        words=words if isinstance(words, SparseVector) else None,
        features=features,
        semantic=semantic if isinstance(semantic, list) else None,
        colours=stored_colours(payload),
    )


def stored_colours(payload: dict[str, Any]) -> bytes | None:
    """A record's colour grid; None for records indexed before it was kept."""
    value = payload.get("colours")
    if not isinstance(value, str) or not value:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def stored_features(payload: dict[str, Any]) -> LocalFeatures | None:
    blob = payload.get(KEYPOINTS)
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
    likely_only: bool = True,
    second_round: bool = True,
) -> list[CopyHit]:
    """Best copies of the query image in ``store``, best first.

    ``verify_below``: skip verifying candidates whose hash score already reaches it (for bulk
    work that needs the decision, not the matched region). ``likely_only``: verify only the
    likely copies (see the module's docstring), then, with ``second_round``, the other
    visual-word neighbours when none of them is a copy; off, every candidate worth it (a hash
    at least related, the word and semantic neighbours) up to ``max_verify``, as grouping needs
    to find all of a picture's copies. ``early_exit``: stop once a candidate is certain
    (:data:`CERTAIN`). Candidates not verified keep their hash score."""
    n_hash = len(query.hashes)
    searches = [VectorQuery("duplicate", list(h)) for h in query.hashes]
    per_search = max(PER_QUERY, limit)
    copy_distance = HASH_CALIBRATION.inverse(COPY_THRESHOLD)
    # The image's turns and flips are searched for copies only: their neighbours farther out
    # are not worth a verification, and the image as given already fills the near misses.
    turned = [None] + [copy_distance] * (n_hash - 1)
    # An image query's keypoints are being extracted meanwhile (:func:`image_copy_query`).
    results = ranking.search_batch(
        store,
        list(searches),
        limit=per_search,
        filter=filter,
        settle_from=[copy_distance] * n_hash,
        score_thresholds=turned,
        full_payload=True,  # the candidates' keypoints, for their verification
    )
    with stage("embed"):
        own, words = query.local()
    if words is not None and words.indices:
        searches.append(VectorQuery("duplicate_words", words))
    semantic = query.semantic() if callable(query.semantic) else query.semantic
    if semantic is not None:
        searches.append(VectorQuery("semantic", list(semantic)))
    others = searches[n_hash:]
    if others:
        results += ranking.search_batch(
            store, others, limit=per_search, filter=filter, full_payload=True
        )
    lead = _word_lead(results[n_hash]) if others and others[0].using == "duplicate_words" else None
    hash_raw: dict[str, float] = {}
    for hits in results[:n_hash]:
        for h in hits:
            hash_raw[h.id] = max(hash_raw.get(h.id, -1.0), h.score)
    # Worth verifying: hash hits at least "related", and the word and semantic neighbours (with
    # ``likely_only``, the likely copies among them).
    strong = [[h for h in hits if HASH_CALIBRATION(h.score) >= HASH_FLOOR] for hits in results]
    evidence = _evidence(query, searches, results)
    ordered = _interleave(strong[:n_hash] + results[n_hash:])
    worth = [h for h in ordered if evidence[h.id].likely or not likely_only][:max_verify]
    chosen = {h.id for h in worth}
    rest = [h for h in _interleave(results) if h.id not in chosen]
    # Verified only when the likely few hold no copy: the word neighbours past the first.
    later = (
        [h for h in rest if evidence[h.id].words][: max_verify - len(worth)]
        if likely_only and second_round
        else []
    )

    def candidate(hit: Hit, copy: CopyHit) -> _Candidate | None:
        needed = verify_below is None or copy.hash_score < verify_below
        features = stored_features(hit.payload) if needed else None
        return None if features is None else _Candidate(copy, features, evidence[hit.id])

    found: list[CopyHit] = []
    to_verify: list[_Candidate] = []
    for hit in (worth + rest)[: max(len(worth), limit)]:
        copy = _copy_hit(query, hit, hash_raw.get(hit.id))
        check = candidate(hit, copy) if hit.id in chosen else None
        if check is not None:
            to_verify.append(check)
        found.append(copy)
    with stage("verify"):
        if own is not None:
            _verify(query, own, to_verify, early_exit=early_exit)
            if later and not any(c.score >= COPY_THRESHOLD for c in found):
                listed = {c.id: c for c in found}
                more = [
                    candidate(h, listed.get(h.id) or _copy_hit(query, h, hash_raw.get(h.id)))
                    for h in later
                ]
                checks = [c for c in more if c is not None]
                _verify(query, own, checks, early_exit=early_exit)
                found += [
                    c.copy for c in checks if c.copy.match is not None and c.copy.id not in listed
                ]
    for c in found:
        if c.id == lead:
            c.score = max(c.score, WORD_LEAD_SCORE)
    return [c for c in best_first(found) if reaches(c.score, threshold)][:limit]


def _word_lead(hits: Sequence[Hit]) -> str | None:
    """The visual-word neighbour that stands :data:`WORD_LEAD` times above the next one."""
    if len(hits) >= 2 and hits[0].score >= WORD_LEAD * hits[1].score > 0:
        return hits[0].id
    return None


def _copy_hit(query: CopyQuery, hit: Hit, raw: float | None) -> CopyHit:
    """A candidate scored by its hash alone (``raw``: its best hash search score, None when no
    hash search found it), held at :data:`LOOK_ALIKE` when the colours differ."""
    hash_score = HASH_CALIBRATION(-1.0 if raw is None else raw)
    if hash_score > LOOK_ALIKE and colours_differ(query.colours, stored_colours(hit.payload)):
        hash_score = LOOK_ALIKE  # one layout in other colours: only verification says copy
    copy = CopyHit(hit.id, hash_score, hash_score, hit.payload)
    if raw is not None:
        copy.hash_distance = round((1.0 - raw) * HASH_BITS / 2)
    return copy


@dataclass(frozen=True)
class _Evidence:
    """What the searches say of a candidate: which keypoints of the query to match with its own,
    and whether it is a likely copy."""

    plain: bool = False
    """Match the query's keypoints as given (found by a hash of a turn, its words, semantics)."""
    mirrored: bool = False
    """Match the mirrored query's keypoints (found by a flip's hash, or by semantics)."""
    likely: bool = False
    """A likely copy by the rank or distance it was found at (``likely_only`` verifies only
    these)."""
    words: bool = False
    """Among the first :data:`MORE_WORDS` visual-word neighbours (``likely_only`` verifies them
    too when the likely ones hold no copy)."""


@dataclass
class _Candidate:
    """A candidate to verify, and how."""

    copy: CopyHit
    features: LocalFeatures
    evidence: _Evidence


def _evidence(
    query: CopyQuery, searches: Sequence[VectorQuery], results: Sequence[Sequence[Hit]]
) -> dict[str, _Evidence]:
    """Per candidate, from the searches that found it and the ranks and scores they found it
    at."""
    n_hash = len(query.hashes)
    turns = n_hash - query.mirrored_hashes
    out: dict[str, _Evidence] = {}
    for i, (search, hits) in enumerate(zip(searches, results, strict=True)):
        for rank, hit in enumerate(hits):
            seen = out.get(hit.id, _Evidence())
            plain, mirrored, words = seen.plain, seen.mirrored, seen.words
            if i < n_hash:
                plain, mirrored = plain or i < turns, mirrored or i >= turns
                score = HASH_CALIBRATION(hit.score)
                likely = score >= COPY_THRESHOLD or (i == rank == 0 and score >= HASH_FLOOR)
            elif search.using == "duplicate_words":
                plain, likely, words = True, rank < FIRST_WORDS, words or rank < MORE_WORDS
            else:  # semantic: blind to a flip
                plain, mirrored, likely = True, True, rank < FIRST_SEMANTIC
            out[hit.id] = _Evidence(plain, mirrored, seen.likely or likely, words)
    return out


def _verify(
    query: CopyQuery, own: LocalFeatures, to_verify: list[_Candidate], *, early_exit: bool
) -> None:
    """Verify the candidates in their order (the best of each store search first), as many at
    once as there are cores (OpenCV releases the GIL), and stop once one is certain: the rest
    cannot beat it, and those whose hash makes them copies too are still verified. A candidate
    whose hash is within :data:`CERTAIN_HASH` goes alone: it is most often certain, and then
    the one beside it would have been matched for nothing."""
    pool, width = _verifier()
    left = list(to_verify)
    certain = False
    while left:
        if certain:
            left = [c for c in left if c.copy.hash_score >= CERTAIN_HASH]
        alone = not certain and early_exit and left and left[0].copy.hash_score >= CERTAIN_HASH
        chunk, left = (left[:1], left[1:]) if alone else (left[:width], left[width:])
        matches = pool.map(lambda c: _best_match(query, own, c), chunk)
        for candidate, match in zip(chunk, matches, strict=True):
            candidate.copy.match = match
            if match is not None:
                candidate.copy.score = max(candidate.copy.score, match.score)
                certain = certain or (early_exit and match.score >= CERTAIN)


@cache
def _verifier() -> tuple[ThreadPoolExecutor, int]:
    """The verification pool every query shares, and its width."""
    width = os.cpu_count() or 1
    pool = BackgroundPool(width, thread_name_prefix="verify")
    return pool, width


def _best_match(query: CopyQuery, own: LocalFeatures, candidate: _Candidate) -> Match | None:
    """The better of the query's match as given and mirrored, each tried when the candidate's
    evidence points to it (as given, too, when the query has no mirrored keypoints)."""
    best = None
    if candidate.evidence.plain or not query.can_mirror:
        best = verify(own, candidate.features)
        if best is not None and best.score >= CERTAIN:
            return best  # the mirrored query can only tie
    mirrored = query.mirrored_features() if candidate.evidence.mirrored else None
    if mirrored is not None:
        flipped = verify(mirrored, candidate.features)
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
