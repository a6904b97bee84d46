"""The faces signal: every face of an image, and the people they belong to.

- :mod:`.signal`: faces detected and embedded by dlib, one multivector per image;
- :mod:`.people`: the collection's faces grouped into people, named, merged and split.
"""

from lookalike.signals.faces.signal import (
    CALIBRATION,
    MIN_SIDE,
    SAME_PERSON_SCORE,
    FacePreparer,
    FaceSignal,
    FoundFace,
    pick_face,
)

__all__ = [
    "CALIBRATION",
    "MIN_SIDE",
    "SAME_PERSON_SCORE",
    "FacePreparer",
    "FaceSignal",
    "FoundFace",
    "pick_face",
]
