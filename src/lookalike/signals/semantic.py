"""Semantic similarity: a CLIP-family image embedding, which also embeds text queries."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from PIL import Image

from lookalike.config import Settings
from lookalike.images import DecodedImage
from lookalike.models.clip import ImageEncoder, TextEncoder, load_image_encoder, load_text_encoder
from lookalike.scoring import Calibration
from lookalike.store.base import Vector, VectorSpec

#: Image-to-image cosine of CLIP ViT-B/32: re-encoded copies of a photo sit above 0.95, photos of
#: the same kind of thing around 0.8-0.9, unrelated photos around 0.4-0.6.
IMAGE_CALIBRATION = Calibration.of(
    [(-1.0, 0.0), (0.3, 0.0), (0.75, 0.6), (0.85, 0.75), (0.95, 0.9), (1.0, 1.0)]
)
#: Text-to-image cosine of CLIP ViT-B/32 is much lower: a fitting caption scores ~0.30-0.35,
#: an unrelated one ~0.15-0.20.
TEXT_CALIBRATION = Calibration.of(
    [(-1.0, 0.0), (0.15, 0.0), (0.25, 0.6), (0.30, 0.75), (0.35, 0.9), (0.45, 1.0)]
)


def prepared_image(decoded: DecodedImage) -> Image.Image:
    """The decoded, already downscaled image; the model's own preprocessing does the rest."""
    return decoded.image


class SemanticSignal:
    name = "semantic"
    min_side = 224
    preparer = staticmethod(prepared_image)
    calibration = IMAGE_CALIBRATION
    text_calibration = TEXT_CALIBRATION

    def __init__(self, model: str, settings: Settings, dim: int | None = None) -> None:
        self.model = model
        self.settings = settings
        self._dim = dim

    @cached_property
    def encoder(self) -> ImageEncoder:
        return load_image_encoder(self.model, self.settings)

    @cached_property
    def text_encoder(self) -> TextEncoder:
        return load_text_encoder(self.model, self.settings)

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    @property
    def dim(self) -> int:
        return self._dim if self._dim is not None else self.encoder.dim

    def vector_specs(self) -> list[VectorSpec]:
        return [VectorSpec("semantic", self.dim, "cosine")]

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        vectors = self.encoder.embed(list(prepared), batch_size=self.settings.batch_size)
        return [{"semantic": v.tolist()} for v in vectors]

    def payload(self, prepared: Any) -> dict[str, Any]:
        return {}

    def embed_text(self, text: str) -> list[float]:
        return [float(x) for x in self.text_encoder.embed([text])[0]]
