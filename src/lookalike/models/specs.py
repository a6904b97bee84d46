"""Known semantic models, as data: adding a model adds a row.

Each row pairs an image tower and a text tower that fastembed 0.9.1 can run (``vision`` in its
``ImageEmbedding`` list, ``text`` in its ``TextEmbedding`` list) and whose vectors share one space,
so a text query can be scored against indexed images. Names are fastembed's; the hub repository
a tower downloads from is fastembed's too (``models.clip`` asks it).

Each row carries its own score calibration (:mod:`lookalike.scoring`): the cosines of two models
do not mean the same thing, so knots measured on one are never lent to another. A row without
measured knots says so, and its scores are the raw cosines (clamped to [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass

from lookalike.scoring import Calibration

#: Image-to-image cosine of CLIP ViT-B/32: re-encoded copies of a photo sit above 0.95, photos of
#: the same kind of thing around 0.8-0.9, unrelated photos around 0.4-0.6.
CLIP_B32_IMAGE = Calibration.of(
    [(-1.0, 0.0), (0.3, 0.0), (0.75, 0.6), (0.85, 0.75), (0.95, 0.9), (1.0, 1.0)]
)
#: Text-to-image cosine of CLIP ViT-B/32 is much lower: a fitting caption scores ~0.30-0.35,
#: an unrelated one ~0.15-0.20.
CLIP_B32_TEXT = Calibration.of(
    [(-1.0, 0.0), (0.15, 0.0), (0.25, 0.6), (0.30, 0.75), (0.35, 0.9), (0.45, 1.0)]
)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    """Our name for the pair; also the ``model_id`` stored with every vector it makes."""
    vision: str
    """fastembed name of the image tower."""
    text: str | None
    """fastembed name of the text tower; None when the pair has no text side."""
    dim: int
    license: str
    description: str
    text_prefix: str = ""
    """Prepended to every text query (some towers were trained with task prefixes)."""
    text_layer_norm: bool = False
    """Layer-normalise text vectors before the L2 norm, as the model's reference code does."""
    text_trim: bool = True
    """Feed a text query's own tokens only, not padded to the tower's length (77 for CLIP): the
    same vector at a fraction of the compute for a tower whose pooled token sees no padding (a
    causal tower pooled at its end token, as CLIP's; one pooling under its attention mask).
    False for a tower that pools at a fixed position of a padded sequence (SigLIP 2 pads to 64)."""
    image_calibration: Calibration | None = None
    """Image-to-image cosine to the shared score scale; None: not measured for this model."""
    text_calibration: Calibration | None = None
    """Text-to-image cosine to the shared score scale; None: not measured for this model."""

    @property
    def calibrated(self) -> bool:
        """Whether both of the model's score ranges were measured."""
        return self.image_calibration is not None and (
            self.text is None or self.text_calibration is not None
        )


DEFAULT_MODEL = "clip-vit-b-32"

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="clip-vit-b-32",
            vision="Qdrant/clip-ViT-B-32-vision",
            text="Qdrant/clip-ViT-B-32-text",
            dim=512,
            license="mit",
            description="CLIP ViT-B/32: the default; fast on CPU, English text queries.",
            image_calibration=CLIP_B32_IMAGE,
            text_calibration=CLIP_B32_TEXT,
        ),
        ModelSpec(
            name="siglip2-base-patch16-224",
            vision="google/siglip2-base-patch16-224",
            text="google/siglip2-base-patch16-224",
            dim=768,
            license="apache-2.0",
            description="Google SigLIP 2 base, patch 16: more accurate, multilingual, ~4x slower.",
            text_trim=False,
        ),
        ModelSpec(
            name="jina-clip-v1",
            vision="jinaai/jina-clip-v1",
            text="jinaai/jina-clip-v1",
            dim=768,
            license="apache-2.0",
            description="Jina CLIP v1: ViT-B/16 image tower, long English text queries.",
        ),
        ModelSpec(
            name="nomic-embed-v1.5",
            vision="nomic-ai/nomic-embed-vision-v1.5",
            text="nomic-ai/nomic-embed-text-v1.5",
            dim=768,
            license="apache-2.0",
            description="Nomic Embed v1.5: vision tower aligned to the nomic text embedder.",
            text_prefix="search_query: ",
            text_layer_norm=True,
        ),
    )
}


def find_spec(model: str) -> ModelSpec | None:
    """The row for ``model``: our name or a tower's fastembed name, in any case."""
    wanted = model.strip().lower()
    for spec in MODELS.values():
        names = (spec.name, spec.vision, spec.text or "")
        if wanted in (n.lower() for n in names if n):
            return spec
    return None
