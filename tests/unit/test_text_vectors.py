"""The cache of query text vectors: bounded, least recently used out first, keyed by model."""

from __future__ import annotations

from lookalike.signals.semantic import TextVectors


def test_the_least_recently_used_text_goes_first_and_models_never_mix() -> None:
    cache = TextVectors(size=2)
    cache.put("model-a", "cat", [1.0, 0.0])
    cache.put("model-a", "dog", [0.0, 1.0])
    assert cache.get("model-a", "cat") == [1.0, 0.0]  # now the most recent
    cache.put("model-a", "fish", [0.5, 0.5])
    assert cache.get("model-a", "dog") is None
    assert cache.get("model-a", "cat") == [1.0, 0.0] and cache.get("model-a", "fish") is not None
    assert cache.get("model-b", "cat") is None
    row = cache.get("model-a", "cat")
    assert row is not None
    row[0] = 9.0  # a caller's copy: the cached vector stays
    assert cache.get("model-a", "cat") == [1.0, 0.0]
