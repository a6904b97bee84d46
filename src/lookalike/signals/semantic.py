"""Semantic similarity: a CLIP-family image embedding, which also embeds text queries.

Scores are calibrated by the model's own knots (``models.specs``); a model without measured
knots (a folder, or a row that has none yet) scores by the raw cosine, clamped to [0, 1].
An int8 collection (``precision``) runs both towers' int8 copies and keeps the fp32 model's
knots: quantization moves a cosine by about a hundredth.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
from PIL import Image

from lookalike.batching import Batcher
from lookalike.config import Settings
from lookalike.errors import ModelMismatch
from lookalike.images import DecodedImage
from lookalike.models.clip import (
    Device,
    ImageEncoder,
    TextEncoder,
    load_image_encoder,
    load_text_encoder,
)
from lookalike.models.specs import find_spec
from lookalike.scoring import IDENTITY, Calibration
from lookalike.signals.base import Found, SignalQuery
from lookalike.signals.nearest import nearest
from lookalike.stages import stage
from lookalike.store.base import Vector, VectorSpec
from lookalike.types import Precision, SemanticInput

UNCALIBRATED = IDENTITY
"""The score of a model whose range is not measured: its raw cosine, clamped to [0, 1]."""
TEXT_CACHE_SIZE = 2048
"""Query texts whose vectors are kept (~2 KB each at 512 dimensions): a repeated text, such as
a search box's suggestions or a page's fixed queries, skips the text tower (~44 ms at ViT-B/32
size on 2 cores)."""


class TextVectors:
    """The vectors of recent query texts, least recently used dropped first; keyed by model id
    and text, so one process serving several models never mixes their vectors."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: OrderedDict[tuple[str, str], tuple[float, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model_id: str, text: str) -> list[float] | None:
        with self._lock:
            row = self._rows.get((model_id, text))
            if row is None:
                return None
            self._rows.move_to_end((model_id, text))
            return list(row)

    def put(self, model_id: str, text: str, vector: Sequence[float]) -> None:
        with self._lock:
            self._rows[(model_id, text)] = tuple(vector)
            self._rows.move_to_end((model_id, text))
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)


text_vectors = TextVectors(TEXT_CACHE_SIZE)
"""The process's cache of query text vectors."""


INPUT_SIDE = 224
"""The shorter edge of a CLIP-family tower's input."""


def prepared_image(decoded: DecodedImage) -> Image.Image:
    """The decoded, already downscaled image; the model's own preprocessing does the rest."""
    return decoded.image


def direct_image(decoded: DecodedImage) -> Image.Image:
    """The image resized to the tower's input straight from the decoded pixels, when the
    shared image is larger (the copy signal's 512 px); else the shared image itself."""
    return decoded.direct.get(INPUT_SIDE, decoded.image)


class SemanticSignal:
    """``semantic_input``: where the tower's input comes from, as the collection records it.
    ``direct`` (collections made since it exists): resized straight from the decoded pixels,
    one resize, and a query by this signal decodes nothing larger. ``shared`` (collections
    made before): resized from the image shared with the other signals, two resizes. The two
    give slightly different pixels, so a collection keeps the way its records were made."""

    name = "semantic"
    min_side = INPUT_SIDE
    takes = frozenset({"image", "text", "id", "vector", "examples"})

    def __init__(
        self,
        model: str,
        settings: Settings,
        dim: int | None = None,
        precision: Precision = "fp32",
        *,
        device: Device = "cpu",
        semantic_input: SemanticInput = "shared",
    ) -> None:
        """``device``: where the image tower runs (``"cuda"``: a cluster worker's GPU)."""
        self.model = model
        self.settings = settings
        self.precision: Precision = precision
        self.semantic_input: SemanticInput = semantic_input
        direct = semantic_input == "direct"
        self.direct_side: int | None = INPUT_SIDE if direct else None
        self.preparer = direct_image if direct else prepared_image
        self._dim = dim
        self.device: Device = device
        spec = find_spec(model)
        self.calibration: Calibration = (spec and spec.image_calibration) or UNCALIBRATED
        self.text_calibration: Calibration = (spec and spec.text_calibration) or UNCALIBRATED

    @cached_property
    def encoder(self) -> ImageEncoder:
        return load_image_encoder(
            self.model, self.settings, device=self.device, precision=self.precision
        )

    @cached_property
    def text_encoder(self) -> TextEncoder:
        return load_text_encoder(self.model, self.settings, precision=self.precision)

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    @property
    def dim(self) -> int:
        return self._dim if self._dim is not None else self.encoder.dim

    def vector_specs(self) -> list[VectorSpec]:
        return [VectorSpec("semantic", self.dim, "cosine")]

    @cached_property
    def _one_at_a_time(self) -> Batcher[Image.Image, np.ndarray]:
        """Single images (queries) embedded concurrently share model calls."""
        encoder = self.encoder
        return Batcher(lambda images: list(encoder.embed(images)), self.settings.query_batch)

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        if len(prepared) == 1:
            return [{"semantic": self._one_at_a_time(prepared[0]).tolist()}]
        vectors = self.encoder.embed(list(prepared), batch_size=self.settings.batch_size)
        return [{"semantic": v.tolist()} for v in vectors]

    def payload(self, prepared: Any) -> dict[str, Any]:
        return {}

    def embed_text(self, text: str) -> list[float]:
        """The text's vector, from the cache of recent query texts when it is there."""
        encoder = self.text_encoder
        if encoder.model_id != self.model_id:  # e.g. an fp32 text tower beside an int8 one
            raise ModelMismatch(
                f"text queries are embedded by {encoder.model_id}, but the images by "
                f"{self.model_id}; their vectors cannot be compared",
                detail={"model_id": self.model_id, "query_model_id": encoder.model_id},
            )
        cached = text_vectors.get(encoder.model_id, text)
        if cached is not None:
            return cached
        with stage("embed"):
            vector = [float(x) for x in encoder.embed([text])[0]]
        text_vectors.put(encoder.model_id, text, vector)
        return vector

    def score_vectors(self, query: SignalQuery) -> dict[str, Vector]:
        """The embedding itself: a copy search takes its neighbours as candidates too."""
        return query.image_vectors(self)

    def search(self, query: SignalQuery, limit: int) -> list[Found]:
        """Nearest neighbours of the query's embedding: of its text (scored against images
        alone), of its image or record (the other signals scored beside), or a raw vector."""
        text = query.query.text
        if text is not None:
            vectors: dict[str, Vector] = {self.name: self.embed_text(text)}
            return nearest(query, self, vectors, self.text_calibration, limit)
        return nearest(query, self, query.vectors(self), self.calibration, limit)
