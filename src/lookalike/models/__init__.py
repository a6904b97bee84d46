"""Semantic models: known models as data (``specs``), where their files are (``files``), and
the CLIP-family encoders run by fastembed on ONNX Runtime (``clip``).

Nothing here loads at import; fastembed itself is imported only when a model is located.
"""

from lookalike.models.clip import (
    ImageEncoder,
    TextEncoder,
    download_model,
    load_image_encoder,
    load_text_encoder,
)
from lookalike.models.specs import DEFAULT_MODEL, MODELS, ModelSpec

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "ImageEncoder",
    "ModelSpec",
    "TextEncoder",
    "download_model",
    "load_image_encoder",
    "load_text_encoder",
]
