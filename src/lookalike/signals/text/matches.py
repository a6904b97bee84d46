"""Text queries against the text signal: keyword search in the store, then each candidate
scored by how much of the query its text contains, with the lines that matched.

The store ranks candidates by BM25 (sparse dot product with IDF); the calibrated score is the
share of the query words found (``keywords.coverage`` through the text signal's calibration),
which means the same in every collection, unlike a BM25 number. Results are ordered by that
score, ties by BM25, then by record id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lookalike import ranking
from lookalike.errors import InvalidQuery
from lookalike.filters import Node
from lookalike.scoring import Calibration
from lookalike.signals.text.keywords import coverage, query_vector, tokenize, word_credit
from lookalike.store.base import CollectionStore, VectorQuery

CANDIDATES = 50
"""At least this many store candidates are scored, so that ordering by the share of query
words found does not miss a record that BM25 alone ranked lower."""


@dataclass
class TextHit:
    id: str
    score: float
    """Calibrated, on the shared [0, 1] scale."""
    bm25: float
    payload: dict[str, Any]
    lines: list[dict[str, Any]] = field(default_factory=list)
    """The record's lines containing query words: text, box, confidence, and ``words``."""

    def match(self) -> dict[str, Any]:
        return {"lines": self.lines}


def find_text(
    store: CollectionStore,
    text: str,
    *,
    filter: Node | None,
    limit: int,
    calibration: Calibration,
) -> list[TextHit]:
    """Records whose text contains words of ``text``, best first; ``calibration`` maps the
    share of the query words found to the shared scale."""
    vector = query_vector(text)
    if vector is None:
        raise InvalidQuery(f"the text query {text!r} has no words to look for")
    words = list(dict.fromkeys(tokenize(text)))
    hits = ranking.search(
        store, VectorQuery(using="text", vector=vector), limit=max(limit, CANDIDATES), filter=filter
    )
    found = []
    for h in hits:
        lines = h.payload.get("ocr_lines") or []
        raw = coverage(words, (str(line.get("text", "")) for line in lines))
        found.append(TextHit(h.id, calibration(raw), h.score, h.payload, _matching(words, lines)))
    found.sort(key=lambda t: (-t.score, -t.bm25, t.id))
    return found


def _matching(words: list[str], lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        tokens = set(tokenize(str(line.get("text", ""))))
        matched = [w for w in words if word_credit(w, tokens) > 0]
        if matched:
            out.append({**line, "words": matched})
    return out
