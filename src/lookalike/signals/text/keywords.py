"""Keyword search over the text found in images: a tokenizer, BM25 sparse vectors, and how much
of a query a piece of text contains.

The rules, the same for indexed text and queries:

- Case and accents do not count: text is case-folded and decomposed (NFKD) and its combining
  marks dropped, so ``Café``, ``CAFE`` and ``cafe`` are one word, ``Straße`` is ``strasse``.
- A word is a run of letters and digits; everything else separates words (``v2.0`` is ``v2``
  and ``0``), except apostrophes, which are dropped (``don't`` is ``dont``). Han and kana
  characters, written without spaces, are one word each.
- Partial words: a query word of at least :data:`MIN_PREFIX` characters also finds the words it
  begins (``coff`` finds ``coffee``), ranked below whole-word matches. A word is not found from
  its middle or end (``burger`` does not find ``cheeseburger``), and there is no stemming
  (``coffees`` does not find ``coffee``, but ``coffee`` finds ``coffees``).

Why not Qdrant Edge's own ``Bm25`` model: it answers hashed indices only, while matched lines
and the calibrated score need the words themselves, with the same rules as the index.

Vectors: each word is hashed to a sparse index (31 bits) weighted by BM25's term-frequency
saturation, in two spaces: whole words, and (high bit set) every prefix of at least
:data:`MIN_PREFIX` characters of each word. The store multiplies by each index's IDF (the
sparse vector's IDF modifier) at search time, which completes BM25.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from lookalike.store.base import SparseVector

MIN_PREFIX = 3
"""Shortest query word that also finds longer words beginning with it."""
PREFIX_WEIGHT = 0.5
"""Weight of a partial-word match against a whole-word match of the same word (1.0)."""
MAX_WORD = 40
"""Longer runs of letters (OCR noise, codes) are cut to this many characters."""
K1 = 1.2
B = 0.75
AVG_WORDS = 12.0
"""BM25's average document length: the text on an image is short (a sign, a label, a caption)."""

_PREFIX_SPACE = 1 << 31
_APOSTROPHES = str.maketrans("", "", "'\u2019\u02bc\u2018")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


def normalize(text: str) -> str:
    """Case-folded, accents and apostrophes removed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_APOSTROPHES)


def tokenize(text: str) -> list[str]:
    """The words of ``text`` under the rules above, in order."""
    return [w[:MAX_WORD] for w in _WORD.findall(normalize(text))]


def _index(word: str) -> int:
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") & (_PREFIX_SPACE - 1)


def _prefixes(word: str) -> Iterable[str]:
    return (word[:n] for n in range(MIN_PREFIX, len(word) + 1))


def _saturate(tf: int, length: int) -> float:
    return tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / AVG_WORDS))


def document_vector(text: str) -> SparseVector | None:
    """The indexed form of ``text``; None when it has no words."""
    words = tokenize(text)
    if not words:
        return None
    weights: dict[int, float] = {}
    for word, tf in Counter(words).items():
        weights[_index(word)] = _saturate(tf, len(words))
    prefixes = Counter(p for word in words for p in set(_prefixes(word)))
    for prefix, tf in prefixes.items():
        weights[_PREFIX_SPACE | _index(prefix)] = _saturate(tf, len(words))
    return _sparse(weights)


def query_vector(text: str) -> SparseVector | None:
    """The query form of ``text``: each distinct word, whole and as a prefix; None without
    words."""
    weights: dict[int, float] = {}
    for word in dict.fromkeys(tokenize(text)):
        weights[_index(word)] = 1.0
        if len(word) >= MIN_PREFIX:
            weights[_PREFIX_SPACE | _index(word)] = PREFIX_WEIGHT
    return _sparse(weights) if weights else None


def _sparse(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(indices, [weights[i] for i in indices])


def word_credit(query_word: str, words: Iterable[str]) -> float:
    """How well ``words`` contain one query word: 1.0 as a whole word, ``len(query) /
    len(word)`` as the beginning of a longer word (the share of it typed), else 0."""
    best = 0.0
    for word in words:
        if word == query_word:
            return 1.0
        if len(query_word) >= MIN_PREFIX and word.startswith(query_word):
            best = max(best, len(query_word) / len(word))
    return best


def coverage(query_words: Sequence[str], texts: Iterable[str]) -> float:
    """The share of the distinct query words that ``texts`` contain, partial words counting
    by :func:`word_credit`: 1.0 when every query word is there as a whole word."""
    distinct = list(dict.fromkeys(query_words))
    if not distinct:
        return 0.0
    words = {w for t in texts for w in tokenize(t)}
    return sum(word_credit(q, words) for q in distinct) / len(distinct)
