"""Text in images: OCR every image, keep its lines with boxes and confidences, and index the
words for keyword (BM25) search as a sparse vector (rules in :mod:`.keywords`).

Needs the ``ocr`` extra (RapidOCR); the OCR runs in the decode workers, so ingest spreads it
over the cores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lookalike.errors import InvalidQuery
from lookalike.filters import HasIds, Not
from lookalike.images import DecodedImage, decode
from lookalike.models.ocr import OcrLine, read_text, require_ocr
from lookalike.scoring import Calibration, reaches
from lookalike.signals.base import Found, SignalQuery
from lookalike.signals.nearest import narrow
from lookalike.signals.text.keywords import document_vector
from lookalike.signals.text.matches import find_text
from lookalike.store.base import Vector, VectorSpec


@dataclass(frozen=True)
class Reading:
    """How the OCR reads an image: the lines are found on a small copy of it (the detector's
    cost grows with its pixels) and read from the image decoded at ``decode_side`` (reading one
    line costs the same at any size, and small text needs the pixels)."""

    decode_side: int
    """Shorter edge, in pixels, the image is decoded at (smaller images are kept as they are)."""
    detect_side: int
    """Shorter edge the detector enlarges smaller images to."""
    detect_max_side: int | None
    """Longer edge the detector shrinks larger images to; None: it reads them as decoded."""
    box_threshold: float = 0.5
    """Mean text probability the detector needs over a line's box."""


READING = Reading(decode_side=1024, detect_side=480, detect_max_side=640, box_threshold=0.3)
"""Measured by ``benchmarks/ocr.py --words`` (60 photos 1600 px wide, one word each, 10 font
families, text 14 to 72 px high, -15 to 15 degrees; docs/text.md): decoding and detecting at
480 px, the reading before this one, put the word's photo first for 0.75 of the words (0.1 of
the 14 px ones) at 380 ms of CPU per image; this reading for 0.97, at 460 ms. The detector at
800 px found 0.98 at 1.7 times the old cost, but read two close words of a larger line as one
(tests/api/test_signals_api.py); decoding and detecting at 960 px found 0.93 at 3.7 times."""

MIN_SIDE = 480
"""Shorter edge the text signal asks of the image shared with the other signals (it reads its
own copy, at ``READING.decode_side``)."""

#: Raw score: the share of the query's words that the image's text contains (1.0: all of them
#: as whole words; a partial word counts by the share of it typed, see keywords.word_credit).
#: On the shared scale: all words whole -> 1.0; all words, some partly typed -> 0.75-0.9;
#: half the words -> 0.6 ("related"); fewer -> below.
CALIBRATION = Calibration.of([(0.0, 0.0), (0.5, 0.6), (0.75, 0.75), (0.95, 0.9), (1.0, 1.0)])


def prepare(
    decoded: DecodedImage, reading: Reading = READING, threads: int | None = None
) -> tuple[OcrLine, ...]:
    """The image's lines of text (runs in decode workers; ``threads`` as in ``read_text``)."""
    return tuple(
        read_text(
            decoded.image,
            detect_side=reading.detect_side,
            detect_max_side=reading.detect_max_side,
            box_threshold=reading.box_threshold,
            threads=threads,
        )
    )


class TextSignal:
    name = "text"
    min_side = MIN_SIDE
    own_side = READING.decode_side
    preparer = staticmethod(prepare)
    calibration = CALIBRATION
    text_calibration = CALIBRATION
    model_id = "rapidocr-ppocr+keywords-v1"
    takes = frozenset({"text", "image", "id"})

    def __init__(self) -> None:
        require_ocr()

    def vector_specs(self) -> list[VectorSpec]:
        return [VectorSpec("text", 0, sparse=True)]

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        out: list[dict[str, Vector]] = []
        for lines in prepared:
            vector = document_vector("\n".join(line.text for line in lines))
            out.append({"text": vector} if vector is not None else {})  # no text, no vector
        return out

    def payload(self, prepared: Any) -> dict[str, Any]:
        return {
            "ocr_text": "\n".join(line.text for line in prepared),
            "ocr_lines": [line.to_dict() for line in prepared],
        }

    def score_vectors(self, query: SignalQuery) -> dict[str, Vector]:
        """None: a sparse signal scores no other signal's results."""
        return {}

    def search(self, query: SignalQuery, limit: int) -> list[Found]:
        """Records whose text holds the query's words: those of a text, of a record's text, or
        of the text read in a query image; each with its lines that hold them."""
        q = query.query
        if q.positive or q.negative or q.vector is not None or q.region is not None:
            raise InvalidQuery("the text signal takes a text, an image or a record id")
        node = query.filter
        text = q.text
        record = query.record
        if record is not None:
            text = str(record.payload.get("ocr_text") or "")
            node = narrow(node, Not(HasIds((record.id,))))
            if not text.strip():
                raise InvalidQuery(f"record {record.id!r} has no text to search with")
        elif q.image is not None:
            text = self._image_text(query)
        if text is None:
            raise InvalidQuery("the text signal takes a text, an image or a record id")
        found = find_text(query.store, text, filter=node, limit=limit, calibration=CALIBRATION)
        return [
            Found(t.id, t.score, t.payload, {self.name: t.score}, t.match())
            for t in found
            if reaches(t.score, q.threshold)
        ][:limit]

    def _image_text(self, query: SignalQuery) -> str:
        """The text OCR reads in the query image."""
        data, name = query.image_bytes()
        decoded = decode(
            data, name=name, min_side=self.own_side, max_pixels=query.settings.max_pixels
        )
        text = "\n".join(line.text for line in prepare(decoded))
        if not text.strip():
            raise InvalidQuery(f"no text found in the query image {name}")
        return text
