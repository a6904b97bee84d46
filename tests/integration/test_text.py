"""The text signal end to end: RapidOCR on photos with rendered text and on a photographed
page, keyword search in the real Qdrant Edge store, fusion with semantic search."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike import Engine, Settings
from lookalike.engine import Collection
from lookalike.errors import BadInput, InvalidQuery, MissingExtra
from tests.support.photo_collection import indexed_collection
from tests.support.samples import photo
from tests.support.text_images import TextImage, background, render, text_set

RENDERED = 16
MIN_WORD_RECALL = 0.8
"""benchmarks/ocr.py measures 93 % of rendered words read at the signal's decode size."""


SMALL = 16 / 1064
"""16 px text on a 1600 x 1064 photo."""


@pytest.fixture(scope="module")
def rendered() -> list[TextImage]:
    return text_set(RENDERED, long_side=800)


@pytest.fixture(scope="module")
def text_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("text-data"), offline=True)
    with Engine(settings) as engine:
        yield engine


@pytest.fixture(scope="module")
def coll(
    text_engine: Engine,
    tiny_model: Path,
    rendered: list[TextImage],
    tmp_path_factory: pytest.TempPathFactory,
) -> Collection:
    folder = tmp_path_factory.mktemp("text-images")
    for n, item in enumerate(rendered):
        item.image.save(folder / f"r{n:02d}.jpg", quality=90)
    cafe = render(background("astronaut", 800), ("Café", "Müller"), font="roboto", size=0.07)
    cafe.image.save(folder / "cafe.jpg", quality=90)
    grand = render(background("coffee", 800), ("Grand", "CAFE"), font="caladea-bold", size=0.08)
    grand.image.save(folder / "grand.jpg", quality=90)
    small = render(
        background("chelsea", 1600), ("lighthouse",), font="caladea-serif", size=SMALL, angle=15
    )
    small.image.save(folder / "small.jpg", quality=90)
    from skimage import data

    Image.fromarray(np.asarray(data.page())).convert("RGB").save(folder / "page.png")
    photo("rocket").save(folder / "plain.jpg", quality=90)  # OCR finds no text in it
    # 20 images: decoded and read in the worker pool
    return indexed_collection(
        text_engine,
        "texts",
        [folder],
        expected=RENDERED + 5,
        signals="semantic,text",
        model=str(tiny_model),
    )


def _overlap(a: list[float], b: tuple[float, float, float, float]) -> float:
    """Share of box ``a`` inside box ``b``."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return w * h / area if area > 0 else 0.0


@pytest.mark.slow
def test_rendered_words_are_found_with_their_lines_and_boxes(
    coll: Collection, rendered: list[TextImage]
) -> None:
    found = queries = 0
    for n, item in enumerate(rendered):
        for word in item.words:
            queries += 1
            results = coll.search(text=word, signal="text", top_k=3)
            if not results or results[0].id != f"r{n:02d}.jpg":
                continue
            found += 1
            top = results[0]
            assert top.scores == {"text": top.score} and 0.0 < top.score <= 1.0
            assert top.match is not None and top.match["lines"]
            for line in top.match["lines"]:
                assert word in line["words"] and 0.0 < line["confidence"] <= 1.0
                assert all(0.0 <= v <= 1.0 for v in line["box"])
                assert _overlap(line["box"], item.box) > 0.5, (line, item.box)
    recall = found / queries
    assert recall >= MIN_WORD_RECALL, f"found {found} of {queries} rendered words"


@pytest.mark.slow
def test_a_small_turned_word_in_a_large_photo_is_found(coll: Collection) -> None:
    """Read from the text signal's own, larger copy of the image: at the 480 px the other
    signals share, this word is 5 px high and was read as "Sphahns"."""
    results = coll.search(text="lighthouse", signal="text")
    assert [r.id for r in results][:1] == ["small.jpg"]
    assert results[0].score == 1.0


@pytest.mark.slow
def test_case_accents_and_partial_words(coll: Collection) -> None:
    exact = coll.search(text="CAFE muller", signal="text", top_k=5)
    assert exact[0].id == "cafe.jpg" and exact[0].score == 1.0
    assert exact[1].id == "grand.jpg" and 0.5 < exact[1].score < 0.75  # one word of two
    partial = coll.search(text="müll", signal="text", top_k=5)
    assert [r.id for r in partial] == ["cafe.jpg"]
    assert 0.0 < partial[0].score < exact[0].score
    assert coll.search(text="müll", signal="text", threshold=0.9) == []
    assert coll.search(text="ller", signal="text") == []  # not from the middle of a word


@pytest.mark.slow
def test_a_typo_or_a_plural_still_finds_the_word_below_exact_matches(coll: Collection) -> None:
    exact = coll.search(text="muller", signal="text", top_k=5)[0]
    typo = coll.search(text="mueller", signal="text", top_k=5)  # one letter too many
    assert typo and typo[0].id == "cafe.jpg" and 0.0 < typo[0].score < exact.score
    assert typo[0].match is not None
    assert any("mueller" in line["words"] for line in typo[0].match["lines"])
    assert coll.search(text="mueller", signal="text", threshold=0.9) == []
    plural = coll.search(text="cafes", signal="text", top_k=5)
    assert {r.id for r in plural[:2]} == {"cafe.jpg", "grand.jpg"}
    assert all(0.75 < r.score < 1.0 for r in plural[:2])
    assert plural[0].match is not None
    assert any("cafes" in line["words"] for line in plural[0].match["lines"])


@pytest.mark.slow
def test_a_photographed_page_is_read_and_found(coll: Collection) -> None:
    results = coll.search(text="histogram of grey values", signal="text", top_k=3)
    assert results[0].id == "page.png" and results[0].score >= 0.9
    lines = [line["text"] for line in results[0].match["lines"]]  # type: ignore[index]
    assert any("histogram" in line.lower() for line in lines)
    record = coll.get("page.png")
    assert "segmentation" in record["ocr_text"].lower()
    assert isinstance(coll.get("plain.jpg")["ocr_text"], str)  # read, whatever it holds


@pytest.mark.slow
def test_text_query_fuses_semantic_and_text_when_no_signal_is_forced(coll: Collection) -> None:
    fused = coll.search(text="Müller", top_k=6)
    assert len(fused) == 6
    assert fused[0].id == "cafe.jpg"  # first in the text ranking, and nothing else is in it
    assert set(fused[0].scores) == {"semantic", "text"}
    assert fused[0].score == max(fused[0].scores.values())
    assert all(set(r.scores) == {"semantic"} for r in fused[1:])
    semantic = coll.search(text="Müller", signal="semantic", top_k=6)
    assert all(set(r.scores) == {"semantic"} for r in semantic)
    assert [r.score for r in semantic] == sorted((r.score for r in semantic), reverse=True)


@pytest.mark.slow
def test_search_by_record_and_by_image_uses_their_text(coll: Collection, tmp_path: Path) -> None:
    by_id = coll.search(id="cafe.jpg", signal="text")
    assert by_id[0].id == "grand.jpg" and "cafe.jpg" not in [r.id for r in by_id]
    query = render(photo("chelsea"), ("Müller",), font="caladea-serif", size=0.1)
    query.image.save(tmp_path / "q.jpg", quality=90)
    by_image = coll.search(image=tmp_path / "q.jpg", signal="text")
    assert by_image[0].id == "cafe.jpg"
    with pytest.raises(InvalidQuery):
        coll.search(id="plain.jpg", signal="text")
    with pytest.raises(InvalidQuery):
        coll.search(text="...", signal="text")
    # an image query on the semantic signal neither reads text nor reports a text score
    assert all("text" not in r.scores for r in coll.search(id="cafe.jpg", top_k=3))


def test_text_signal_missing_its_extra_is_a_clear_error(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # what an absent package looks like
    with pytest.raises(MissingExtra, match=r'pip install "lookalike\[ocr\]"'):
        engine.create_collection("texts", signals="text")
    assert "texts" not in engine.list_collections()


def test_text_signal_on_a_collection_without_it_is_refused(engine: Engine) -> None:
    coll = engine.create_collection("dups", signals="duplicate")
    with pytest.raises(BadInput, match="no 'text' signal"):
        coll.search(text="anything", signal="text")
