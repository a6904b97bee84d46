"""The keyword rules of the text signal: words, case, accents, partial words, plurals, typos,
BM25 vectors."""

from __future__ import annotations

from lookalike.signals.text.keywords import (
    FUZZY_CREDIT,
    MIN_PREFIX,
    STEM_CREDIT,
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


def test_plurals_find_their_singular_and_back_below_the_word_itself() -> None:
    shoe, shoes = document_vector("red shoe"), document_vector("red shoes")
    assert _dot(query_vector("shoes"), shoe) > 0
    assert _dot(query_vector("shoe"), shoes) > 0
    assert _dot(query_vector("shoes"), shoes) > _dot(query_vector("shoes"), shoe)
    assert _dot(query_vector("cities"), document_vector("city")) > 0
    assert _dot(query_vector("boxes"), document_vector("box")) > 0
    assert word_credit("shoes", ["shoe"]) == STEM_CREDIT < 1.0
    assert word_credit("boxes", ["box"]) == STEM_CREDIT
    assert word_credit("shoe", ["shoes"]) > 0
    assert word_credit("glass", ["glas"]) < STEM_CREDIT  # "ss" is not a plural ending
    assert coverage(tokenize("red shoes"), ["RED SHOE"]) == (1.0 + STEM_CREDIT) / 2


def test_one_typo_finds_the_word_below_exact_matches() -> None:
    doc = document_vector("Coffee Shop")
    for typo in ("cofee", "coffie", "cofefe", "xoffee", "coffeee"):
        assert _dot(query_vector(typo), doc) > 0, typo
        assert word_credit(typo, ["coffee"]) == FUZZY_CREDIT, typo
    assert _dot(query_vector("coffee"), doc) > _dot(query_vector("cofee"), doc)
    assert _dot(query_vector("cuffey"), doc) == 0  # two edits
    assert word_credit("cuffey", ["coffee"]) == 0.0
    assert _dot(query_vector("tea"), document_vector("pea")) == 0  # too short to forgive
    assert word_credit("tea", ["pea"]) == 0.0
    assert coverage(tokenize("cofee shop"), ["coffee shop"]) == (FUZZY_CREDIT + 1.0) / 2
    # language-neutral: a dropped or swapped letter is forgiven in any script
    assert word_credit("мосва", ["москва"]) == FUZZY_CREDIT
    assert _dot(query_vector("мсоква"), document_vector("Москва")) > 0
