"""Reading the text inside an image: RapidOCR (PP-OCR detection, angle and recognition models,
shipped inside the ``rapidocr`` wheel, run by ONNX Runtime), so it works offline.

One engine per process, made on first use: in the decode workers, where the text signal's
preparer runs, with one ONNX Runtime thread each (the pool already spreads images over the
cores); in the main process (small jobs, queries) with ONNX Runtime's default threads.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from PIL import Image

from lookalike.errors import MissingExtra

INSTALL_HINT = 'pip install "lookalike[ocr]"'


@dataclass(frozen=True)
class OcrLine:
    """One line of text found in an image."""

    text: str
    box: tuple[float, float, float, float]
    """(left, top, right, bottom), normalised to [0, 1] of the image's width and height."""
    confidence: float
    """The recogniser's confidence in ``text``, 0..1."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "box": [round(v, 4) + 0.0 for v in self.box],
            "confidence": round(self.confidence, 4),
        }


def require_ocr() -> None:
    """Raise :class:`MissingExtra` unless RapidOCR can be imported."""
    try:
        import rapidocr  # noqa: F401
    except ImportError as exc:
        raise MissingExtra(
            f"the text signal needs RapidOCR, which is not installed: {INSTALL_HINT}",
            detail={"signal": "text", "extra": "ocr", "missing": exc.name or "rapidocr"},
        ) from exc


def read_text(
    image: Image.Image,
    *,
    detect_side: int,
    detect_max_side: int | None = None,
    box_threshold: float = 0.5,
    min_confidence: float = 0.5,
    threads: int | None = None,
) -> list[OcrLine]:
    """The lines of text in ``image`` (RGB), top to bottom.

    ``detect_side``: the detector looks at the image with its shorter edge at least this long
    (smaller images are enlarged to it); larger ones are read as they are, or with their longer
    edge at most ``detect_max_side`` when given (the lines found are still read from the image
    at full size). ``box_threshold``: the detector's mean text probability a line's box needs.
    ``threads``: ONNX Runtime threads; None is 1 in a worker process, else ONNX Runtime's
    default.
    """
    if threads is None:
        threads = 1 if multiprocessing.parent_process() is not None else 0
    if detect_max_side is not None and min(image.size) >= detect_side:
        engine = _engine(detect_max_side, "max", box_threshold, threads)
    else:
        engine = _engine(detect_side, "min", box_threshold, threads)
    bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
    result = engine(bgr, text_score=min_confidence)
    if not getattr(result, "txts", None) or getattr(result, "boxes", None) is None:
        return []
    width, height = image.size
    lines = []
    for text, score, quad in zip(result.txts, result.scores, result.boxes, strict=True):
        text = " ".join(str(text).split())
        if not text:
            continue
        xs = np.clip(np.asarray(quad)[:, 0] / width, 0.0, 1.0)
        ys = np.clip(np.asarray(quad)[:, 1] / height, 0.0, 1.0)
        box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        lines.append(OcrLine(text, box, float(score)))
    lines.sort(key=lambda line: (line.box[1], line.box[0]))
    return lines


@cache
def _engine(detect_side: int, limit: str, box_threshold: float, threads: int) -> Any:
    require_ocr()
    from rapidocr import RapidOCR

    return RapidOCR(
        params={
            "Global.log_level": "critical",  # it logs "nothing found" as a warning otherwise
            "Det.limit_side_len": detect_side,
            "Det.limit_type": limit,
            "Det.box_thresh": box_threshold,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads or -1,
        }
    )
