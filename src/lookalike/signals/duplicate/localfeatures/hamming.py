"""The two nearest candidate descriptors of each query point, by Hamming distance, as one
integer matrix product.

OpenCV's ``batchDistance`` spends about 5 ns on each pair of ORB descriptors: 2.5 ms for a
query's ~900 points against a record's ~550, most of what verifying a candidate costs, and a
query without copies verifies 13 of them. Written as bits, a candidate's descriptor ``c`` (0 or
1) times a query's ``q`` as signs (+1 for a set bit, -1 for a clear one) sums to
``2|c & q| - |c|``, which is ``|q|`` minus their Hamming distance. So one product of the
candidate's bits (uint8) by the query's signs (int8), which ONNX Runtime's integer kernels
compute exactly (each term is -1, 0 or 1), gives every distance at once, and numpy takes the
nearest two: the same neighbours in about 40 % of the time (docs/duplicates.md, "Descriptor
matching as one integer product"). ONNX Runtime comes with fastembed; its one-node graph is kept
here as bytes so that no ``onnx`` package is needed to build it (``tests/unit/test_hamming.py``
builds it with ``onnx`` and compares).
"""

from __future__ import annotations

import base64
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

MODEL = base64.b64decode(
    "CAg6egohCgRiaXRzCgVzaWducxIDZG90Ig1NYXRNdWxJbnRlZ2VyEgdoYW1taW5nWhgKBGJpdHMSEAoOCAISCgoDEgFN"
    "CgMIgAJaGQoFc2lnbnMSEAoOCAMSCgoDCIACCgMSAU5iFwoDZG90EhAKDggGEgoKAxIBTQoDEgFOQgQKABAN"
)
"""ONNX (IR 8, opset 13): ``dot = MatMulInteger(bits, signs)``, bits uint8 [M, 256], signs int8
[256, N], dot int32 [M, N]."""


def signs(descriptors: NDArray[np.uint8]) -> tuple[NDArray[np.int8], NDArray[np.int32]]:
    """A query's descriptors (n, 32) as the product's right side: signs (256, n), and each
    descriptor's count of set bits."""
    bits = np.unpackbits(descriptors, axis=1)
    plus_minus = (bits.T.astype(np.int8) << 1) - 1
    return np.ascontiguousarray(plus_minus), bits.sum(axis=1, dtype=np.int32)


def nearest_two(
    query: tuple[NDArray[np.int8], NDArray[np.int32]], candidate: NDArray[np.uint8]
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.intp]]:
    """For each query point (``query`` from :func:`signs`), the Hamming distances to its
    nearest and second-nearest candidate descriptors (``candidate``: at least two, (m, 32)) and
    the nearest one's index, the lowest index among equals (as OpenCV's ``batchDistance``)."""
    plus_minus, counts = query
    bits = np.unpackbits(candidate, axis=1)
    (dot,) = _session().run(None, {"bits": bits, "signs": plus_minus})
    nearest = dot.argmax(axis=0)
    columns = np.arange(dot.shape[1])
    best = dot[nearest, columns]
    dot[nearest, columns] = np.iinfo(np.int32).min  # so the next maximum is the second
    return counts - best, counts - dot.max(axis=0), nearest


@cache
def _session() -> Any:
    """One session for the process, running on the calling thread: the verification pool's
    threads call it at once (``run`` is thread-safe)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(
        MODEL, sess_options=options, providers=["CPUExecutionProvider"]
    )
