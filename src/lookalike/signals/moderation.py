"""Moderation: NudeNet's detector on each image, kept as labels with scores and one ``nsfw`` score.

NudeNet (``pip install "lookalike[moderation]"``; its ONNX detector ships in the package) finds
body parts, covered or exposed, and faces. An ordinary portrait gets ``FACE_FEMALE`` or
``BELLY_COVERED``, so ``nsfw`` counts only the exposed classes listed in ``unsafe_labels``
(by default the explicit ones: bare feet, belly, armpits and a male chest are everyday photos)
and is the best score among them, 0 when none is found. ``safe`` is ``nsfw < nsfw_threshold``.

The detector runs in the decode workers, one ONNX Runtime thread each: measured here, batching it
in the main process costs the same CPU per image (~50 ms) and a second thread adds ~30 % CPU for
a ~30 % shorter wall time, so the workers, which run in parallel, are where it is cheapest.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from lookalike.config import Settings
from lookalike.errors import BadInput, MissingExtra
from lookalike.images import DecodedImage
from lookalike.scoring import IDENTITY
from lookalike.signals.base import FieldsOnly
from lookalike.store.base import Vector, VectorSpec

#: Every class NudeNet 3.4's detector (``320n.onnx``) reports, in its output order.
LABELS: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)

#: The exposed classes that make an image unsafe by default (the ``unsafe_labels`` setting).
DEFAULT_UNSAFE: tuple[str, ...] = Settings.model_fields["unsafe_labels"].default

#: NudeNet pads each image to a square and resizes it to 320 pixels.
INPUT_SIDE = 320
EXTRA_HINT = 'pip install "lookalike[moderation]"'
MODEL_ID = "nudenet-3-320n"


def require_nudenet() -> Any:
    """The ``nudenet`` module, or :class:`MissingExtra` naming the install command."""
    try:
        return importlib.import_module("nudenet")
    except ImportError as exc:
        raise MissingExtra(
            f"the moderation signal needs NudeNet: {EXTRA_HINT}",
            detail={"extra": "moderation", "package": "nudenet"},
        ) from exc


@cache
def _detector() -> Any:
    """One detector per process, single-threaded (decode workers run side by side)."""
    import onnxruntime

    nudenet = require_nudenet()
    detector = nudenet.NudeDetector()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    model = os.path.join(os.path.dirname(nudenet.__file__), "320n.onnx")
    detector.onnx_session = onnxruntime.InferenceSession(
        model, options, providers=["CPUExecutionProvider"]
    )
    return detector


def detect(decoded: DecodedImage) -> list[dict[str, Any]]:
    """NudeNet's detections on one image, best first: label, score, box as fractions of the
    image (left, top, width, height). Runs in decode workers."""
    image = decoded.image
    bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])  # as NudeNet reads files (OpenCV)
    found = _detector().detect(bgr)
    w, h = image.width, image.height
    out = [
        {
            "label": str(d["class"]),
            "score": round(float(d["score"]), 4),
            "box": [
                round(d["box"][0] / w, 4),
                round(d["box"][1] / h, 4),
                round(d["box"][2] / w, 4),
                round(d["box"][3] / h, 4),
            ],
        }
        for d in found
    ]
    return sorted(out, key=lambda d: -d["score"])


def nsfw_score(labels: Sequence[dict[str, Any]], unsafe: Sequence[str] = DEFAULT_UNSAFE) -> float:
    """The best score among the unsafe classes; 0.0 when none was found."""
    return max((float(d["score"]) for d in labels if d["label"] in unsafe), default=0.0)


def check_labels(names: Sequence[str]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in LABELS]
    if unknown:
        raise BadInput(
            f"unsafe_labels: unknown NudeNet class(es) {', '.join(unknown)}; "
            f"known: {', '.join(LABELS)}"
        )
    return tuple(names)


class ModerationSignal(FieldsOnly):
    name = "moderation"
    min_side = INPUT_SIDE
    preparer = staticmethod(detect)
    calibration = IDENTITY
    model_id = MODEL_ID

    def __init__(self, settings: Settings) -> None:
        require_nudenet()
        if not 0.0 < settings.nsfw_threshold <= 1.0:
            raise BadInput(
                f"nsfw_threshold must be above 0 and at most 1, not {settings.nsfw_threshold}"
            )
        self.threshold = settings.nsfw_threshold
        self.unsafe = check_labels(settings.unsafe_labels)

    def vector_specs(self) -> list[VectorSpec]:
        return []

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        return [{} for _ in prepared]

    def verdict(self, labels: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """The payload fields: ``nsfw``, ``safe`` and ``moderation.labels``."""
        score = nsfw_score(labels, self.unsafe)
        return {
            "nsfw": round(score, 4),
            "safe": score < self.threshold,
            "moderation": {"labels": list(labels)},
        }

    def payload(self, prepared: Any) -> dict[str, Any]:
        return self.verdict(prepared)

    def check(self, decoded: DecodedImage) -> dict[str, Any]:
        """One image's verdict, as ``moderate`` answers it: nothing is stored."""
        labels = detect(decoded)
        verdict = self.verdict(labels)
        return {
            "safe": verdict["safe"],
            "nsfw": verdict["nsfw"],
            "threshold": self.threshold,
            "labels": labels,
        }
