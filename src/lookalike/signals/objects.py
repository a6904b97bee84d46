"""Objects: the things a detector finds in an image, each embedded by the collection's semantic
model and stored as one multivector, so a photo of a shoe finds the photo where that shoe is one
object among many.

A record keeps one vector per object in the ``objects`` multivector (MaxSim: the query scores a
record by its closest object) and, in the same order, the objects' boxes, classes and scores in
the payload. The detector (``object_detector``: a YOLO-format ONNX file, docs/objects.md) runs in
the decode workers; the crops come back and are embedded in batches in the main process, by the
same model and code as the semantic signal, so an object's vector lives in the space of whole
images and of text queries. Without a detector the signal refuses to start: a collection never
silently stores whole images where objects were asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from PIL import Image

from lookalike.config import Settings
from lookalike.errors import InvalidQuery, ModelUnavailable
from lookalike.images import DecodedImage, box_fraction
from lookalike.models.detector import locate_detector, open_detector
from lookalike.scoring import Calibration
from lookalike.signals.base import Found, SignalQuery
from lookalike.signals.nearest import cosine, nearest
from lookalike.signals.semantic import SemanticSignal
from lookalike.stages import stage
from lookalike.store.base import Hit, MultiVector, Vector, VectorSpec
from lookalike.types import Precision

#: Images are decoded with this shorter side, as for the duplicate and faces signals (adding
#: objects costs no larger decode); an object a fifth of the image is then ~100 px across.
MIN_SIDE = 512

#: Crops are kept at most this size on their longer side before the semantic model resizes them
#: to its own input (224 for CLIP): what crosses from the decode workers stays small.
CROP_SIDE = 256

#: A crop widens to a square around its box (as far as the image allows): CLIP's centre crop
#: then keeps the whole object, with a little of what surrounds it.
SQUARE = True


@dataclass(frozen=True)
class FoundObject:
    """An object as a decode worker hands it back: picklable, box normalised to the image."""

    box: tuple[float, float, float, float]
    """(left, top, right, bottom) as fractions of the image's width and height."""
    label: str
    score: float
    crop: Image.Image


@dataclass(frozen=True)
class ObjectPreparer:
    """Finds the objects of an image and cuts them out (runs in decode workers; picklable)."""

    detector: str
    min_score: float
    iou: float
    max_count: int
    classes: frozenset[str]

    def __call__(self, decoded: DecodedImage) -> list[FoundObject]:
        image = decoded.image.convert("RGB")
        found = open_detector(self.detector).detect(
            image,
            min_score=self.min_score,
            iou=self.iou,
            max_count=self.max_count,
            classes=self.classes,
        )
        width, height = image.size
        return [
            FoundObject(
                box_fraction(d.box, width, height),
                d.label,
                round(d.score, 4),
                crop_object(image, d.box),
            )
            for d in found
        ]


def crop_object(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    """The object's crop, widened to a square when the image allows, at most CROP_SIDE."""
    left, top, right, bottom = box
    if SQUARE:
        side = max(right - left, bottom - top)
        cx, cy = (left + right) / 2, (top + bottom) / 2
        left = max(0.0, min(cx - side / 2, image.width - side))
        top = max(0.0, min(cy - side / 2, image.height - side))
        right = min(float(image.width), left + side)
        bottom = min(float(image.height), top + side)
    x0, y0 = int(left), int(top)
    crop = image.crop((x0, y0, max(x0 + 1, round(right)), max(y0 + 1, round(bottom))))
    crop.thumbnail((CROP_SIDE, CROP_SIDE), Image.Resampling.BICUBIC)
    return crop


class ObjectSignal:
    name = "objects"
    min_side = MIN_SIDE
    takes = frozenset({"image", "id", "vector"})
    text_calibration = None

    def __init__(
        self,
        model: str,
        settings: Settings,
        dim: int | None = None,
        precision: Precision = "fp32",
    ) -> None:
        if not settings.object_detector:
            raise ModelUnavailable(
                "the objects signal needs an object detector: set object_detector "
                "(LOOKALIKE_OBJECT_DETECTOR) to a YOLO-format ONNX file; docs/objects.md says "
                "where to get one",
                detail={"setting": "object_detector"},
            )
        path = locate_detector(settings.object_detector)
        self.preparer = ObjectPreparer(
            str(path),
            settings.object_min_score,
            settings.object_iou,
            settings.object_max,
            frozenset(settings.object_classes),
        )
        self.semantic = SemanticSignal(model, settings, dim, precision)  # the collection's
        self.settings = settings

    @cached_property
    def detector_id(self) -> str:
        return open_detector(self.preparer.detector).model_id

    @property
    def encoder(self) -> Any:
        """The semantic model's session (a health probe reads whether it is open)."""
        return self.semantic.encoder

    @property
    def calibration(self) -> Calibration:
        """A crop against a query image scores as two images do with the semantic model."""
        return self.semantic.calibration

    @property
    def model_id(self) -> str:
        return f"{self.semantic.model_id}+{self.detector_id}"

    def vector_specs(self) -> list[VectorSpec]:
        return [VectorSpec(self.name, self.semantic.dim, "cosine", multivector=True)]

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        crops = [o.crop for objects in prepared for o in objects]
        rows = self.semantic.encoder.embed(crops, batch_size=self.settings.batch_size)
        out: list[dict[str, Vector]] = []
        at = 0
        for objects in prepared:
            vectors = [rows[i].tolist() for i in range(at, at + len(objects))]
            at += len(objects)
            out.append({self.name: MultiVector(vectors)} if vectors else {})
        return out

    def payload(self, prepared: Any) -> dict[str, Any]:
        return {
            "objects": [{"box": list(o.box), "label": o.label, "score": o.score} for o in prepared]
        }

    def score_vectors(self, query: SignalQuery) -> dict[str, Vector]:
        """None: finding the objects costs a detector run the other searches do not need."""
        return {}

    def search(self, query: SignalQuery, limit: int) -> list[Found]:
        """Records by their closest object to the query: the whole query image (or its region),
        a record's whole-image semantic vector, or a raw vector; each result tells which of its
        objects matched."""
        q = query.query
        if q.positive or q.negative:
            raise InvalidQuery("positive and negative examples do not apply to object search")
        wanted = self._query_vector(query)
        if q.image is not None:  # the other signals' scores; no detector run on the query
            others = query.score_vectors_soon(self)()
        else:
            others = query.vectors(self)
        vectors = {**others, self.name: MultiVector([wanted])}
        return nearest(
            query,
            self,
            vectors,
            self.calibration,
            limit,
            explain=lambda hit: _object_match(hit, wanted),
        )

    def _query_vector(self, query: SignalQuery) -> list[float]:
        q = query.query
        if q.image is not None:
            for semantic in query.signals:  # the collection's semantic signal: embedded once
                if semantic.name == self.semantic.name:
                    image = query.image_vectors(semantic).get(semantic.name)
                    if isinstance(image, list):
                        return image
            with stage("embed"):
                row = self.semantic.encoder.embed([query.decoded.image])[0]
            return [float(x) for x in row]
        if q.vector is not None:
            if len(q.vector) != self.semantic.dim:
                raise InvalidQuery(
                    f"vector has {len(q.vector)} numbers; objects needs {self.semantic.dim}"
                )
            return [float(x) for x in q.vector]
        record = query.record
        if record is not None:
            whole = record.vectors.get(self.semantic.name)
            if isinstance(whole, list):
                return whole
            raise InvalidQuery(
                "an id query on the objects signal needs the record's whole-image vector: "
                "add the semantic signal to the collection, or query by image"
            )
        raise InvalidQuery("the objects signal searches by an image, a record id or a vector")


def _object_match(hit: Hit, query: list[float]) -> dict[str, Any] | None:
    """The record's object that matched: its index, box, class, detection score."""
    stored = hit.vectors.get("objects")
    objects = hit.payload.get("objects") or []
    if not isinstance(stored, MultiVector):
        return None
    sims = [(cosine(query, row), i) for i, row in enumerate(stored.vectors) if i < len(objects)]
    if not sims:
        return None
    sim, i = max(sims, key=lambda t: (t[0], -t[1]))  # ties: the first object
    return {
        "object": i,
        "box": objects[i].get("box"),
        "label": objects[i].get("label"),
        "score": objects[i].get("score"),
        "similarity": round(sim, 6),
    }
