"""The descriptor matching's integer product gives OpenCV's nearest two, exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage
from onnx import TensorProto, helper
from PIL import Image

from lookalike.signals.duplicate.localfeatures import extract, extract_query, hamming
from lookalike.signals.duplicate.localfeatures.keypoints import LocalFeatures


def _opencv(query: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, ...]:
    dist, nearest = cv2.batchDistance(
        query, candidate, cv2.CV_32S, normType=cv2.NORM_HAMMING, K=2, update=0, crosscheck=False
    )
    return dist[:, 0], dist[:, 1], nearest[:, 0]


def _same(query: np.ndarray, candidate: np.ndarray) -> None:
    first, second, nearest = hamming.nearest_two(hamming.signs(query), candidate)
    want_first, want_second, want_nearest = _opencv(query, candidate)
    np.testing.assert_array_equal(first, want_first)
    np.testing.assert_array_equal(second, want_second)
    np.testing.assert_array_equal(nearest, want_nearest)


def test_the_kept_graph_is_the_one_node_product_onnx_builds() -> None:
    value = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["bits", "signs"], ["dot"])],
        "hamming",
        [
            value("bits", TensorProto.UINT8, ["M", 256]),
            value("signs", TensorProto.INT8, [256, "N"]),
        ],
        [value("dot", TensorProto.INT32, ["M", "N"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    assert model.SerializeToString() == hamming.MODEL


def test_real_descriptors_get_opencvs_distances_and_neighbours() -> None:
    photo = Image.fromarray(skimage.data.astronaut())
    query, mirrored = extract_query(photo.crop((100, 50, 400, 350)).resize((512, 512)))
    for candidate in (extract(photo), extract(Image.fromarray(skimage.data.coffee()))):
        _same(query.descriptors, candidate.descriptors)
        _same(mirrored.descriptors, candidate.descriptors)


@pytest.mark.parametrize("seed", range(3))
def test_ties_and_extremes_match_opencv(seed: int) -> None:
    """Repeated candidate rows (ties: the lowest index is the nearest), all-zero and all-one
    descriptors (distances 0 and 256), near copies a few bits apart."""
    rng = np.random.default_rng(seed)
    candidate = rng.integers(0, 256, (40, 32), dtype=np.uint8)
    candidate[7] = candidate[3]
    candidate[10] = 0
    candidate[11] = 255
    near = candidate[[3, 5, 10, 11]].copy()
    near[1, 4] ^= 0b101
    query = np.vstack([near, rng.integers(0, 256, (25, 32), dtype=np.uint8), candidate[[7, 20]]])
    _same(query, candidate)
    first, _, nearest = hamming.nearest_two(hamming.signs(query), candidate)
    assert (first[0], nearest[0]) == (0, 3)
    assert first[3] == 0 and first[2] == 0


def test_a_query_makes_its_signs_once() -> None:
    features = extract(Image.fromarray(skimage.data.camera()).convert("RGB"))
    assert isinstance(features, LocalFeatures)
    assert features.signs is features.signs
    plus_minus, counts = features.signs
    assert plus_minus.shape == (256, len(features)) and set(np.unique(plus_minus)) == {-1, 1}
    np.testing.assert_array_equal(counts, np.unpackbits(features.descriptors, axis=1).sum(1))
