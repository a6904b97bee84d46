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
  its middle or end (``burger`` does not find ``cheeseburger``).
- Plurals (light English stemming, query side): ``shoes`` also finds ``shoe``, ``boxes``
  ``box``, ``cities`` ``city`` (and ``shoe`` finds ``shoes`` as a partial word), ranked below
  the word itself. Words not ending like an English plural are left as they are, so other
  languages keep exact and partial matching only.
- One typo: a query word of at least :data:`MIN_FUZZY` characters also finds the indexed words
  one edit away (a letter missing, extra, changed, or two neighbours swapped: ``cofee``,
  ``cofefe`` find ``coffee``), ranked below exact and plural matches.
  Added and changed letters are tried from ``a-z``, ``0-9`` and the query word's own
  characters, so in other scripts a typo is forgiven when it drops, repeats or swaps letters
  of the word.

Why not Qdrant Edge's own ``Bm25`` model: it answers hashed indices only, while matched lines
and the calibrated score need the words themselves, with the same rules as the index.

Typos and plurals are matched against the indexed vocabulary through the same hashed indices:
the query vector also holds, at a lower weight, the hash of every spelling one edit away from
each query word (a few hundred for a word of 8 letters), so no word list is kept beside the
index.

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
MIN_FUZZY = 4
"""Shortest query word that also finds the words one typo away (shorter ones would find too
many other words)."""
STEM_CREDIT = 0.9
"""Credit of a plural form of the query word (``shoes`` for ``shoe`` and back), under a whole
word's 1.0."""
FUZZY_CREDIT = 0.5
"""Credit of a word one typo away from the query word: found, but under any exact match."""
STEM_WEIGHT = 0.8
FUZZY_WEIGHT = 0.25
"""Query-vector weights of a word's plural forms and its one-typo spellings (whole word 1.0)."""
MAX_WORD = 40
"""Longer runs of letters (OCR noise, codes) are cut to this many characters."""
K1 = 1.2
B = 0.75
AVG_WORDS = 12.0
"""BM25's average document length: the text on an image is short (a sign, a label, a caption)."""

_PREFIX_SPACE = 1 << 31
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
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
    """The query form of ``text``: each distinct word, whole and as a prefix, its plural forms
    and its one-typo spellings; None without words."""
    weights: dict[int, float] = {}

    def add(index: int, weight: float) -> None:
        weights[index] = max(weights.get(index, 0.0), weight)

    for word in dict.fromkeys(tokenize(text)):
        add(_index(word), 1.0)
        if len(word) >= MIN_PREFIX:
            add(_PREFIX_SPACE | _index(word), PREFIX_WEIGHT)
        for stem in singulars(word):
            add(_index(stem), STEM_WEIGHT)
        for typo in one_typo(word):
            add(_index(typo), FUZZY_WEIGHT)
    return _sparse(weights) if weights else None


def singulars(word: str) -> set[str]:
    """The singular forms ``word`` may be the English plural of (``shoes`` -> ``shoe``,
    ``shoe``'s plural is found as a partial word); empty when it does not end like one."""
    if len(word) < MIN_FUZZY or not word.isalpha() or not word.endswith("s"):
        return set()
    if word.endswith("ss") or word.endswith(("us", "is")):
        return set()  # glass, bus, analysis: not plurals
    out = {word[:-1]}
    if word.endswith("ies") and len(word) > MIN_FUZZY:
        out.add(word[:-3] + "y")
    if word.endswith("es"):
        out.add(word[:-2])
    return out


def one_typo(word: str) -> set[str]:
    """The spellings one edit away from ``word`` (deleted, inserted, changed letter, or two
    neighbours swapped); empty under :data:`MIN_FUZZY` characters."""
    if len(word) < MIN_FUZZY or len(word) >= MAX_WORD:
        return set()
    letters = "".join(dict.fromkeys(_ALPHABET + word))
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in letters}
    out |= {a + c + b for a, b in splits for c in letters}
    out.discard(word)
    return out


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one edit (as :func:`one_typo` makes them)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i = diff[0]
        return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1 :]


def _sparse(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(indices, [weights[i] for i in indices])


def word_credit(query_word: str, words: Iterable[str]) -> float:
    """How well ``words`` contain one query word: 1.0 as a whole word, :data:`STEM_CREDIT` as
    its singular, ``len(query) / len(word)`` as the beginning of a longer word (the share of it
    typed), :data:`FUZZY_CREDIT` one typo away, else 0."""
    best = 0.0
    stems = singulars(query_word)
    fuzzy = len(query_word) >= MIN_FUZZY
    for word in words:
        if word == query_word:
            return 1.0
        if word in stems:
            best = max(best, STEM_CREDIT)
        elif len(query_word) >= MIN_PREFIX and word.startswith(query_word):
            best = max(best, len(query_word) / len(word))
        elif fuzzy and best < FUZZY_CREDIT and _one_edit(query_word, word):
            best = FUZZY_CREDIT
    return best


def coverage(query_words: Sequence[str], texts: Iterable[str]) -> float:
    """The share of the distinct query words that ``texts`` contain, partial words counting
    by :func:`word_credit`: 1.0 when every query word is there as a whole word."""
    distinct = list(dict.fromkeys(query_words))
    if not distinct:
        return 0.0
    words = {w for t in texts for w in tokenize(t)}
    return sum(word_credit(q, words) for q in distinct) / len(distinct)
