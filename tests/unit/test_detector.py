"""The YOLO-format decoding on a detector whose output is known: a graph that answers a fixed
tensor, so every box and score below is computed by hand from the letterbox geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from lookalike.errors import ModelUnavailable
from lookalike.models.detector import Detector, decode_output, letterbox, locate_detector, nms


def _detector(path: Path, output: np.ndarray, names: str | None, side: int = 64) -> Path:
    """An ONNX graph taking ``images`` and answering ``output`` (plus 0 x the input's mean, so
    the input is used), with Ultralytics' metadata."""
    const = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(output, "v"))
    mean = helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0)
    zero = helper.make_node("Mul", ["m", "z"], ["mz"])
    add = helper.make_node("Add", ["c", "mz"], ["output0"])
    graph = helper.make_graph(
        [const, mean, zero, add],
        "fixed",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
        [numpy_helper.from_array(np.zeros((), np.float32), "z")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {"imgsz": f"[{side}, {side}]"}
    if names is not None:
        meta["names"] = names
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return path


def test_boxes_come_back_through_the_letterbox_into_image_pixels(tmp_path: Path) -> None:
    # A 128x64 image letterboxed to 64: scale 0.5, 32 rows of grey above and below (pad y 16).
    # Anchor 0: a box centred at (32, 32) of 16x8 in input pixels, class 1 at 0.9.
    # In the image: centre (64, 32), size 32x16 -> (48, 24, 80, 40).
    out = np.zeros((1, 4 + 2, 3), np.float32)
    out[0, :, 0] = [32, 32, 16, 8, 0.1, 0.9]
    out[0, :, 1] = [33, 32, 16, 8, 0.8, 0.0]  # the same place, other class, lower: suppressed
    out[0, :, 2] = [10, 30, 4, 4, 0.2, 0.1]  # below min_score
    path = _detector(tmp_path / "d.onnx", out, "{0: 'cup', 1: 'shoe'}")
    found = Detector(path).detect(Image.new("RGB", (128, 64)), min_score=0.3, iou=0.5)
    assert len(found) == 1
    assert found[0].label == "shoe"
    assert found[0].score == pytest.approx(0.9)
    assert found[0].box == pytest.approx((48, 24, 80, 40))


def test_classes_filter_count_limit_and_labels_file(tmp_path: Path) -> None:
    out = np.zeros((1, 6, 3), np.float32)
    out[0, :, 0] = [10, 10, 4, 4, 0.9, 0.0]
    out[0, :, 1] = [40, 40, 4, 4, 0.0, 0.8]
    out[0, :, 2] = [50, 20, 4, 4, 0.7, 0.0]
    folder = tmp_path / "det"
    folder.mkdir()
    _detector(folder / "model.onnx", out, None)
    (folder / "labels.txt").write_text("bag\nhat\n", encoding="utf-8")
    det = Detector(locate_detector(str(folder)))
    image = Image.new("RGB", (64, 64))
    assert [d.label for d in det.detect(image)] == ["bag", "hat", "bag"]
    assert [d.label for d in det.detect(image, classes=frozenset({"hat"}))] == ["hat"]
    assert [d.score for d in det.detect(image, max_count=2)] == pytest.approx([0.9, 0.8])


def test_yolov5_rows_multiply_objectness_by_class_score() -> None:
    raw = np.array([[10, 10, 4, 4, 0.5, 0.2, 0.8], [20, 20, 4, 4, 0.9, 0.9, 0.1]], np.float32)
    boxes, scores, kinds = decode_output(raw, 2)
    assert scores == pytest.approx([0.4, 0.81])
    assert kinds.tolist() == [1, 0]
    assert boxes[1].tolist() == [20, 20, 4, 4]


def test_nms_keeps_the_best_of_overlapping_boxes_and_separate_ones() -> None:
    boxes = np.array([[10, 10, 10, 10], [11, 10, 10, 10], [30, 30, 10, 10]], np.float32)
    # boxes 0 and 1 overlap by 9x10 = 90 of a union of 110 (IoU 0.82)
    assert nms(boxes, np.array([0.5, 0.9, 0.4], np.float32), 0.5) == [1, 2]
    assert nms(boxes, np.array([0.5, 0.9, 0.4], np.float32), 0.9) == [1, 0, 2]


def test_letterbox_centres_the_image_on_grey() -> None:
    pixels, scale, pad = letterbox(Image.new("RGB", (100, 50), (255, 0, 0)), 40)
    assert pixels.shape == (1, 3, 40, 40) and scale == pytest.approx(0.4) and pad == (0.0, 10.0)
    assert pixels[0, 0, 0, 0] == pytest.approx(114 / 255) and pixels[0, 0, 20, 20] == 1.0


def test_unusable_detectors_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="not found"):
        locate_detector(str(tmp_path / "missing.onnx"))
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable, match="not a loadable ONNX model"):
        Detector(tmp_path / "bad.onnx")
    with pytest.raises(ModelUnavailable, match="fits neither"):
        decode_output(np.zeros((7, 3), np.float32), 2)
