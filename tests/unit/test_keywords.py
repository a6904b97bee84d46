"""The keyword rules of the text signal: words, case, accents, partial words, BM25 vectors."""

from __future__ import annotations

from lookalike.signals.text.keywords import (
    MIN_PREFIX,
    coverage,
    document_vector,
    query_vector,
    tokenize,
    word_credit,
)
from lookalike.store.base import SparseVector


def _dot(a: SparseVector | None, b: SparseVector | None) -> float:
    assert a is not None and b is not None
    weights = dict(zip(a.indices, a.values, strict=True))
    return sum(weights.get(i, 0.0) * v for i, v in zip(b.indices, b.values, strict=True))


def test_case_accents_and_ligatures_do_not_count() -> None:
    assert tokenize("Café MÜLLER") == tokenize("cafe muller") == ["cafe", "muller"]
    assert tokenize("Straße") == tokenize("STRASSE")
    assert tokenize("ﬁnal Ångström") == tokenize("final angstrom")


def test_words_split_on_everything_but_letters_digits_and_apostrophes() -> None:
    assert tokenize("v2.0 open_24h, don't!") == ["v2", "0", "open", "24h", "dont"]
    assert tokenize("O\u2019Brien") == tokenize("obrien")
    assert tokenize("東京タワー") == ["東", "京", "タ", "ワ", "ー"]
    assert tokenize(" ... ") == []


def test_a_query_finds_documents_holding_its_words_and_only_those() -> None:
    doc = document_vector("Grand Café\nOPEN daily")
    assert _dot(query_vector("cafe"), doc) > 0
    assert _dot(query_vector("OPEN"), doc) > 0
    assert _dot(query_vector("closed"), doc) == 0
    assert document_vector("!!!") is None and query_vector("...") is None


def test_partial_words_find_longer_words_but_rank_below_whole_words() -> None:
    whole, longer = document_vector("cat"), document_vector("catalog")
    query = query_vector("cat")
    assert _dot(query, longer) > 0
    assert _dot(query, whole) > _dot(query, longer)
    short = "ca"[: MIN_PREFIX - 1]
    assert _dot(query_vector(short), longer) == 0  # too short to count as a partial word
    assert _dot(query_vector("alog"), longer) == 0  # words are found from their start only


def test_repeated_words_saturate_and_long_texts_weigh_each_word_less() -> None:
    once, twice, thrice = (document_vector(" ".join(["lamp"] * n)) for n in (1, 2, 3))
    q = query_vector("lamp")
    assert _dot(q, once) < _dot(q, twice) < _dot(q, thrice)
    assert _dot(q, thrice) - _dot(q, twice) < _dot(q, twice) - _dot(q, once)
    long = document_vector("lamp " + " ".join(f"word{i}" for i in range(40)))
    assert _dot(q, long) < _dot(q, once)


def test_coverage_counts_the_share_of_query_words_found() -> None:
    assert coverage(tokenize("coffee shop"), ["COFFEE SHOP"]) == 1.0
    assert coverage(tokenize("coffee shop"), ["coffee", "to go"]) == 0.5
    assert coverage(tokenize("coffee coffee"), ["coffee"]) == 1.0
    assert coverage(tokenize("tea"), ["coffee"]) == 0.0
    assert word_credit("coff", ["coffee"]) == 4 / 6
    assert word_credit("coffee", ["coff"]) == 0.0
