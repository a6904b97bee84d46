"""Examples with weights and regions as fractions, on the real store, real photos and the tiny
CLIP model: scores are checked against cosines computed here from the stored vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike import Collection, Engine
from lookalike.errors import BadInput
from lookalike.search import examples
from tests.support.photo_collection import indexed_collection


@pytest.fixture
def coll(engine: Engine, tiny_model: Path, photos: Path) -> Collection:
    n = len(list(photos.iterdir()))
    return indexed_collection(
        engine, "photos", [photos], expected=n, signals="semantic", model=str(tiny_model)
    )


def _unit(coll: Collection) -> dict[str, np.ndarray]:
    ids = [r["id"] for r in coll.list_records(limit=100)[0]]
    stored = coll.store.retrieve(ids, with_vectors=True)
    return {
        p.id: np.asarray(p.vectors["semantic"]) / np.linalg.norm(p.vectors["semantic"])
        for p in stored
    }


def test_a_weight_multiplies_an_examples_similarity(coll: Collection) -> None:
    vectors = _unit(coll)
    a, b, n = "astronaut.jpg", "rocket.jpg", "coffee.jpg"
    weighted = coll.search(positive=[a, {"id": b, "weight": 3}], negative=[n], top_k=20)
    assert {a, b, n}.isdisjoint(r.id for r in weighted)
    expected = {}
    for rid, v in vectors.items():
        if rid in (a, b, n):
            continue
        best = max(1 * float(v @ vectors[a]), 3 * float(v @ vectors[b])) / 3
        worst = 1 * float(v @ vectors[n]) / 3
        expected[rid] = max(0.0, best) if best >= worst else 0.0
    for r in weighted:
        assert r.score == pytest.approx(expected[r.id], abs=1e-4), r.id
    assert [r.id for r in weighted] == sorted(expected, key=lambda i: (-expected[i], i))[
        : len(weighted)
    ]
    plain = coll.search(positive=[a, b], negative=[n], top_k=20)
    ones = coll.search(positive=[{"id": a}, {"id": b, "weight": 1}], negative=[n], top_k=20)
    assert [(r.id, r.score) for r in ones] == [(r.id, r.score) for r in plain]
    assert [r.id for r in weighted] != [r.id for r in plain] or [r.score for r in weighted] != [
        r.score for r in plain
    ]


def test_bad_examples_are_refused() -> None:
    assert examples(["a", {"id": "b", "weight": 2}], [{"id": "c"}]) == (
        ("a", "b"),
        ("c",),
        {"b": 2.0},
    )
    for bad in (
        {"id": "b", "weight": 0},
        {"id": "b", "weight": 101},
        {"id": "b", "w": 2},
        {"weight": 2},
        {"id": "", "weight": 1},
        {"id": "b", "weight": True},
        5,
    ):
        with pytest.raises(BadInput):
            examples([bad], [])  # type: ignore[list-item]
    with pytest.raises(BadInput, match="both positive and negative"):
        examples(["a"], [{"id": "a", "weight": 2}])


def test_a_region_as_fractions_is_the_same_region_in_pixels(coll: Collection, photos: Path) -> None:
    image = photos / "astronaut.jpg"
    width, height = Image.open(image).size
    pixels = coll.search(image=image, region=(0, 0, width / 2, height / 2), top_k=5)
    fractions = coll.search(image=image, region=(0, 0, 0.5, 0.5), top_k=5)
    assert [(r.id, round(r.score, 5)) for r in fractions] == [
        (r.id, round(r.score, 5)) for r in pixels
    ]
    whole = coll.search(image=image, top_k=1)
    assert fractions[0].score < whole[0].score  # a quarter is not the whole image
