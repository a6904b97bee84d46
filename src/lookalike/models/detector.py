"""Object detectors in the format the YOLO family exports to ONNX, run by ONNX Runtime.

The graph takes ``images`` (1, 3, S, S), RGB scaled to [0, 1], and gives one row per anchor:
``(1, 4 + classes, anchors)`` for YOLOv8 and later (box centre and size, then each class's
score) or ``(1, anchors, 5 + classes)`` for YOLOv5 (an objectness score before the classes).
The image is letterboxed (scaled to fit S, centred on grey), and boxes come back through the
same transform, then through per-class non-maximum suppression.

Class names and the input size are read from the metadata Ultralytics writes into its exports
(``names``, ``imgsz``); a ``labels.txt`` beside the model (one name per line) overrides them, and
without either the classes are ``class_0``, ``class_1``... Detectors load once per process, on
first use (decode workers each load their own, single-threaded as the other workers' models).
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lookalike.errors import ModelUnavailable

#: The grey YOLO pads letterboxed images with.
PAD_VALUE = 114
DEFAULT_SIDE = 640


@dataclass(frozen=True)
class Detection:
    """One object: its box in the image's pixels (left, top, right, bottom), class, score."""

    box: tuple[float, float, float, float]
    label: str
    score: float


def locate_detector(value: str) -> Path:
    """The ONNX file a ``object_detector`` setting names: the file, or ``model.onnx`` (else the
    only ``.onnx`` file) in the folder it names."""
    path = Path(value).expanduser()
    if path.is_dir():
        candidates = [path / "model.onnx"] if (path / "model.onnx").is_file() else []
        candidates = candidates or sorted(path.glob("*.onnx"))
        if len(candidates) != 1:
            raise ModelUnavailable(
                f"object detector folder {str(path)!r} holds {len(candidates)} .onnx files; "
                "name the file, or keep one model.onnx there",
                detail={"path": str(path)},
            )
        path = candidates[0]
    if not path.is_file():
        raise ModelUnavailable(
            f"object detector {value!r} not found: point object_detector at a YOLO-format ONNX "
            "file or its folder (docs/objects.md)",
            detail={"path": str(path)},
        )
    return path.resolve()


class Detector:
    """A YOLO-format ONNX detector: :meth:`detect` answers the objects of one image."""

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own error types for a bad file
            raise ModelUnavailable(
                f"object detector {str(path)!r} is not a loadable ONNX model: {exc}",
                detail={"path": str(path)},
            ) from exc
        meta = self._session.get_modelmeta().custom_metadata_map
        self._input = self._session.get_inputs()[0].name
        self.side = _side(meta, self._session.get_inputs()[0].shape)
        self.labels = _labels(path, meta, self._classes())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        self.model_id = f"yolo:{path.name}#{digest}"

    def _classes(self) -> int | None:
        shape = self._session.get_outputs()[0].shape
        known = [d for d in shape[1:] if isinstance(d, int)]
        return min(known) - 4 if known else None  # v8 layout; v5's is corrected when seen

    def detect(
        self,
        image: Image.Image,
        *,
        min_score: float = 0.3,
        iou: float = 0.5,
        max_count: int = 10,
        classes: frozenset[str] = frozenset(),
    ) -> list[Detection]:
        """The objects of ``image``, best first, at most ``max_count``; ``classes`` keeps only
        those (empty: every class)."""
        pixels, scale, pad = letterbox(image.convert("RGB"), self.side)
        raw = np.asarray(self._session.run(None, {self._input: pixels})[0])[0]
        boxes, scores, kinds = decode_output(raw, len(self.labels))
        keep = scores >= min_score
        if classes:
            wanted = np.array([label in classes for label in self.labels])
            keep &= wanted[kinds]
        boxes, scores, kinds = boxes[keep], scores[keep], kinds[keep]
        chosen = nms(boxes, scores, iou)[:max_count]
        width, height = image.size
        out = []
        for i in chosen:
            cx, cy, w, h = boxes[i]
            left = float(np.clip((cx - w / 2 - pad[0]) / scale, 0, width))
            top = float(np.clip((cy - h / 2 - pad[1]) / scale, 0, height))
            right = float(np.clip((cx + w / 2 - pad[0]) / scale, 0, width))
            bottom = float(np.clip((cy + h / 2 - pad[1]) / scale, 0, height))
            if right - left >= 1 and bottom - top >= 1:
                label = self.labels[int(kinds[i])]
                out.append(Detection((left, top, right, bottom), label, float(scores[i])))
        return out


@cache
def open_detector(path: str) -> Detector:
    """One detector per process and file."""
    return Detector(Path(path))


def letterbox(image: Image.Image, side: int) -> tuple[np.ndarray, float, tuple[float, float]]:
    """``image`` scaled to fit a ``side`` square, centred on grey: the (1, 3, side, side) float
    input, the scale, and the (x, y) padding in input pixels."""
    scale = min(side / image.width, side / image.height)
    w = max(1, round(image.width * scale))
    h = max(1, round(image.height * scale))
    canvas = np.full((side, side, 3), PAD_VALUE, dtype=np.uint8)
    x, y = (side - w) // 2, (side - h) // 2
    canvas[y : y + h, x : x + w] = np.asarray(image.resize((w, h), Image.Resampling.BILINEAR))
    pixels = canvas.astype(np.float32).transpose(2, 0, 1)[None] / 255.0
    return np.ascontiguousarray(pixels), scale, (float(x), float(y))


def decode_output(raw: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (centre x, centre y, w, h), best score and its class per anchor, from either
    layout: YOLOv8's (4 + classes, anchors) or YOLOv5's (anchors, 5 + classes)."""
    if raw.ndim != 2:
        raise ModelUnavailable(f"object detector output has shape {raw.shape}; expected 2-D rows")
    if raw.shape[0] == 4 + classes:
        rows = raw.T
        boxes, class_scores = rows[:, :4], rows[:, 4:]
    elif raw.shape[1] == 5 + classes:
        boxes, class_scores = raw[:, :4], raw[:, 5:] * raw[:, 4:5]
    elif raw.shape[1] == 4 + classes:
        boxes, class_scores = raw[:, :4], raw[:, 4:]
    else:
        raise ModelUnavailable(
            f"object detector output {raw.shape} fits neither YOLO layout for {classes} classes"
        )
    kinds = np.argmax(class_scores, axis=1)
    scores = class_scores[np.arange(len(kinds)), kinds]
    return boxes.astype(np.float32), scores.astype(np.float32), kinds


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression across classes (one box per object, of
    its best class), best score first, ties by index so that the result is deterministic."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    corners = np.column_stack(
        [
            boxes[:, 0] - boxes[:, 2] / 2,
            boxes[:, 1] - boxes[:, 3] / 2,
            boxes[:, 0] + boxes[:, 2] / 2,
            boxes[:, 1] + boxes[:, 3] / 2,
        ]
    )
    areas = np.maximum(0, boxes[:, 2]) * np.maximum(0, boxes[:, 3])
    kept: list[int] = []
    for i in order:
        if kept:
            c = corners[kept]
            w = np.minimum(c[:, 2], corners[i, 2]) - np.maximum(c[:, 0], corners[i, 0])
            h = np.minimum(c[:, 3], corners[i, 3]) - np.maximum(c[:, 1], corners[i, 1])
            inter = np.clip(w, 0, None) * np.clip(h, 0, None)
            union = areas[kept] + areas[i] - inter
            if np.any(inter / np.maximum(union, 1e-9) > iou):
                continue
        kept.append(i)
    return kept


def _side(meta: dict[str, str], shape: list[Any]) -> int:
    """The square input size: Ultralytics' ``imgsz``, else a fixed input shape, else 640."""
    try:
        sizes = ast.literal_eval(meta["imgsz"])
        return int(max(sizes))
    except (KeyError, ValueError, SyntaxError, TypeError):
        pass
    fixed = [d for d in shape[2:] if isinstance(d, int)]
    return max(fixed) if fixed else DEFAULT_SIDE


def _labels(path: Path, meta: dict[str, str], classes: int | None) -> list[str]:
    """Class names: ``labels.txt`` beside the model, else Ultralytics' ``names``, else numbers."""
    listed = path.parent / "labels.txt"
    if listed.is_file():
        lines = listed.read_text(encoding="utf-8").splitlines()
        return [line.strip() for line in lines if line.strip()]
    try:
        names = ast.literal_eval(meta["names"])
        return [str(names[i]) for i in sorted(names)]
    except (KeyError, ValueError, SyntaxError, TypeError):
        pass
    if classes is None or classes < 1:
        raise ModelUnavailable(
            f"object detector {str(path)!r} names no classes and its output size is not fixed: "
            "put a labels.txt (one class per line) beside it"
        )
    return [f"class_{i}" for i in range(classes)]
