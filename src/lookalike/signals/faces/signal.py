"""Faces: every face of an image, detected and embedded by dlib, stored as one multivector.

A record keeps one 128-d vector per face in the ``faces`` multivector (MaxSim: a query face
scores a record by its best face) and, in the same order, the faces' boxes in the payload. The
whole detection runs in the decode workers: dlib is not batched, so spreading images over
processes is what speeds it up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lookalike.config import Settings
from lookalike.errors import BadInput, InvalidQuery
from lookalike.filters import Match, Node
from lookalike.images import DecodedImage, box_fraction
from lookalike.models.faces import DETECTORS, EMBEDDING_DIM, face_models, require_faces
from lookalike.scoring import Calibration
from lookalike.signals.base import Found, SignalQuery
from lookalike.signals.nearest import cosine, nearest
from lookalike.store.base import Hit, MultiVector, Vector, VectorSpec

#: Images are decoded with this shorter side (as for the duplicate signal, so adding faces costs
#: no larger decode). With ``face_upsample = 1`` the HOG detector then finds faces down to ~40 px,
#: about a thirteenth of the shorter side.
MIN_SIDE = 512

#: Knots on the cosine of two face embeddings (docs/faces.md). On the test portraits the same
#: face in one photo, cropped or re-encoded, scores 0.98-0.99; the same person in different
#: photos 0.95-0.975; different people 0.80-0.84. dlib's own operating point (distance 0.6,
#: 99.38 % on LFW) is a cosine of about 0.907 for these vectors (norms 1.36-1.46), placed at 0.75.
CALIBRATION = Calibration.of(
    [(-1.0, 0.0), (0.75, 0.0), (0.87, 0.6), (0.907, 0.75), (0.975, 0.9), (1.0, 1.0)]
)


#: Score from which a face search result is the same person (dlib's distance 0.6).
SAME_PERSON_SCORE = 0.75


@dataclass(frozen=True)
class FoundFace:
    """A face as a decode worker hands it back: picklable, box normalised to the image."""

    box: tuple[float, float, float, float]
    """(left, top, right, bottom) as fractions of the image's width and height."""
    score: float
    vector: tuple[float, ...]


@dataclass(frozen=True)
class FacePreparer:
    """Detects and embeds every face of an image (runs in decode workers; picklable)."""

    detector: str = "hog"
    upsample: int = 1

    def __call__(self, decoded: DecodedImage) -> list[FoundFace]:
        pixels = np.asarray(decoded.image.convert("RGB"))
        height, width = pixels.shape[:2]
        return [
            FoundFace(
                box_fraction(f.box, width, height),
                round(f.score, 3),
                tuple(float(x) for x in f.vector),
            )
            for f in face_models(self.detector).faces(pixels, self.upsample)
        ]


class FaceSignal:
    name = "faces"
    min_side = MIN_SIDE
    calibration = CALIBRATION
    model_id = "dlib-resnet-v1"
    takes = frozenset({"image", "id", "vector", "person", "face"})
    text_calibration = None

    def __init__(self, settings: Settings) -> None:
        require_faces()
        if settings.face_detector not in DETECTORS:
            raise BadInput(
                f"setting face_detector: unknown detector {settings.face_detector!r}; "
                f"known: {', '.join(DETECTORS)}"
            )
        if not 0 <= settings.face_upsample <= 3:
            raise BadInput("setting face_upsample: use 0, 1, 2 or 3")
        self.preparer = FacePreparer(settings.face_detector, settings.face_upsample)

    def vector_specs(self) -> list[VectorSpec]:
        return [VectorSpec("faces", EMBEDDING_DIM, "cosine", multivector=True)]

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        return [
            {"faces": MultiVector([list(f.vector) for f in faces])} if faces else {}
            for faces in prepared
        ]

    def payload(self, prepared: Any) -> dict[str, Any]:
        return {
            "faces": [{"box": list(f.box), "person": None} for f in prepared],
            "people": [],
            "faces_pending": bool(prepared),
        }

    def score_vectors(self, query: SignalQuery) -> dict[str, Vector]:
        """None: finding the faces costs 0.2-1.5 s, more than the search it would annotate."""
        return {}

    def search(self, query: SignalQuery, limit: int) -> list[Found]:
        """Records by their best face against one face: a person's mean face, or a face of the
        query image or record (``face`` index, else the one ``box`` covers, else the largest);
        each result tells which of its faces matched."""
        q = query.query
        if q.positive or q.negative:
            raise InvalidQuery("positive and negative examples do not apply to face search")
        vectors, query_face, where = self._query_face(query)
        wanted = vectors[self.name]
        return nearest(
            query,
            self,
            vectors,
            self.calibration,
            limit,
            where=where,
            explain=lambda hit: _face_match(hit, wanted, q.person, query_face),
        )

    def _query_face(
        self, query: SignalQuery
    ) -> tuple[dict[str, Vector], dict[str, Any] | None, Node | None]:
        """The query's vectors with the one face searched for, that face (index, box, how many
        faces), and the filter a person search narrows to."""
        q = query.query
        vectors = query.vectors(self)
        if q.person is not None:
            if query.person_vector is None:
                raise InvalidQuery("person search needs the collection's people")
            person = MultiVector([query.person_vector(q.person)])
            return {**vectors, self.name: person}, None, Match("people", q.person)
        if q.vector is not None:
            return {self.name: MultiVector([[float(x) for x in q.vector]])}, None, None
        record = query.record
        if record is not None:
            boxes = [f["box"] for f in record.payload.get("faces") or []]
            stored = record.vectors.get(self.name)
            rows = stored.vectors if isinstance(stored, MultiVector) else []
            size = (record.payload.get("width") or 1, record.payload.get("height") or 1)
            what = f"record {record.id!r}"
        else:
            found = query.prepared(self) or []
            boxes = [list(f.box) for f in found]
            rows = [list(f.vector) for f in found]
            size = (query.decoded.width, query.decoded.height)
            what = "the query image"
        box = None
        if q.box is not None:
            w, h = size
            box = (q.box[0] / w, q.box[1] / h, q.box[2] / w, q.box[3] / h)
        i = pick_face(boxes, index=q.face, box=box, what=what)
        chosen = {"index": i, "box": boxes[i], "faces": len(boxes)}
        return {**vectors, self.name: MultiVector([rows[i]])}, chosen, None


def _face_match(
    hit: Hit, query: Vector, person: int | None, query_face: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The record's face that matched (of ``person`` only, in a person search)."""
    stored = hit.vectors.get("faces")
    faces = hit.payload.get("faces") or []
    if not isinstance(stored, MultiVector) or not isinstance(query, MultiVector):
        return None
    sims = [
        (cosine(query.vectors[0], row), i)
        for i, row in enumerate(stored.vectors)
        if i < len(faces) and (person is None or faces[i].get("person") == person)
    ]
    if not sims:
        return None
    sim, i = max(sims)
    match: dict[str, Any] = {
        "face": i,
        "box": faces[i].get("box"),
        "person": faces[i].get("person"),
        "similarity": round(sim, 6),
    }
    if query_face is not None:
        match["query_face"] = query_face
    return match


def pick_face(
    boxes: Sequence[Sequence[float]],
    *,
    index: int | None = None,
    box: tuple[float, float, float, float] | None = None,
    what: str = "the query image",
) -> int:
    """Which face a query means: ``index``, else the face ``box`` covers most, else the largest
    (boxes come largest first). ``box`` is normalised like the boxes."""
    if not boxes:
        raise InvalidQuery(f"no face found in {what}")
    if index is not None:
        if not 0 <= index < len(boxes):
            raise InvalidQuery(f"{what} has {len(boxes)} face(s); face index {index} is not one")
        return index
    if box is None:
        return 0
    overlaps = [_overlap(b, box) for b in boxes]
    best = max(range(len(boxes)), key=lambda i: overlaps[i])
    if overlaps[best] <= 0.0:
        raise InvalidQuery(f"no face of {what} lies in the box {list(box)}")
    return best


def _overlap(face: Sequence[float], box: Sequence[float]) -> float:
    """Share of the face's area inside the box."""
    w = min(face[2], box[2]) - max(face[0], box[0])
    h = min(face[3], box[3]) - max(face[1], box[1])
    area = (face[2] - face[0]) * (face[3] - face[1])
    return max(0.0, w) * max(0.0, h) / area if area > 0 else 0.0
