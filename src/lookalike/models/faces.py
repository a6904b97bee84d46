"""dlib's face detectors and 128-d face embedding, with the weights `face_recognition_models` ships.

The weight files are found through the package's import spec, without importing it: its
``__init__`` imports ``pkg_resources``, which recent setuptools no longer provides. Models load
once per process on first use (decode workers each load their own), never at import.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import MissingExtra, ModelUnavailable

DETECTORS = ("hog", "cnn")
INSTALL_HINT = 'pip install "lookalike[faces]"'
EMBEDDING_DIM = 128

#: HOG detections below this score are dropped. Real faces in the test portraits score 0.54-2.2;
#: the one false detection seen (a round mission patch on scikit-image's astronaut) 0.12.
MIN_HOG_SCORE = 0.3

_WEIGHTS = {
    "landmarks": "shape_predictor_5_face_landmarks.dat",
    "embedding": "dlib_face_recognition_resnet_model_v1.dat",
    "cnn": "mmod_human_face_detector.dat",
}


def require_faces() -> None:
    """Fail with the install hint when dlib or the weights package is missing."""
    missing = [m for m in ("dlib", "face_recognition_models") if _spec(m) is None]
    if missing:
        raise MissingExtra(
            f"the faces signal needs {' and '.join(missing)}: {INSTALL_HINT}",
            detail={"extra": "faces", "missing": missing},
        )


def weights_dir() -> Path:
    require_faces()
    spec = _spec("face_recognition_models")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _spec(name: str) -> Any:
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


@dataclass(frozen=True)
class Face:
    """One detected face: its box in pixels of the image it was found in, and its embedding."""

    box: tuple[int, int, int, int]
    """(left, top, right, bottom), clipped to the image."""
    score: float
    vector: np.ndarray


class FaceModels:
    """A detector, the 5-point landmark model that aligns faces, and the embedding network."""

    def __init__(self, detector: str) -> None:
        if detector not in DETECTORS:
            raise ValueError(f"unknown face detector {detector!r}; known: {', '.join(DETECTORS)}")
        import dlib

        folder = weights_dir()
        paths = {k: folder / v for k, v in _WEIGHTS.items()}
        absent = [str(p) for p in paths.values() if not p.is_file()]
        if absent:
            raise ModelUnavailable(
                f"face model files missing: {', '.join(absent)}; reinstall with {INSTALL_HINT}"
            )
        self.detector_name = detector
        self._hog = dlib.get_frontal_face_detector() if detector == "hog" else None
        self._cnn = (
            dlib.cnn_face_detection_model_v1(str(paths["cnn"])) if detector == "cnn" else None
        )
        self._landmarks = dlib.shape_predictor(str(paths["landmarks"]))
        self._embedding = dlib.face_recognition_model_v1(str(paths["embedding"]))

    def detect(self, pixels: np.ndarray, upsample: int) -> list[tuple[Any, float]]:
        """dlib rectangles with their detection scores."""
        if self._cnn is not None:
            return [(d.rect, float(d.confidence)) for d in self._cnn(pixels, upsample)]
        assert self._hog is not None
        rects, scores, _ = self._hog.run(pixels, upsample, MIN_HOG_SCORE)
        return [(r, float(s)) for r, s in zip(rects, scores, strict=True)]

    def faces(self, pixels: np.ndarray, upsample: int) -> list[Face]:
        """Every face in an RGB ``uint8`` array, largest first."""
        height, width = pixels.shape[:2]
        found = []
        for rect, score in self.detect(pixels, upsample):
            shape = self._landmarks(pixels, rect)
            vector = np.asarray(self._embedding.compute_face_descriptor(pixels, shape))
            box = (
                max(0, rect.left()),
                max(0, rect.top()),
                min(width, rect.right()),
                min(height, rect.bottom()),
            )
            if box[2] > box[0] and box[3] > box[1]:
                found.append(Face(box, score, vector.astype(np.float32)))
        found.sort(key=lambda f: (-(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), f.box[0]))
        return found


@cache
def face_models(detector: str) -> FaceModels:
    """The models of this process, loaded on first use."""
    return FaceModels(detector)
