"""CLIP-family image and text encoders, run by fastembed on ONNX Runtime.

``model`` is a known name (a key of :data:`lookalike.models.specs.MODELS`, or a tower's
fastembed name such as ``Qdrant/clip-ViT-B-32-vision``, in any case) or a path to a folder
(a known name wins over a folder of the same name: write ``./name`` for the folder).

A known model's files are looked for, in order, in ``<model_dir>/<hub repo>/`` (for example
``<model_dir>/Qdrant/clip-ViT-B-32-vision/``, the hub repo's files as they are), then in
``<data_dir>/models/<hub repo>/`` and fastembed's cache there; if none has them and downloading
is allowed (``offline`` off, ``HF_HUB_OFFLINE`` unset) and the hub answers, they are downloaded
into ``<data_dir>/models/<hub repo>/`` with a progress bar (:mod:`lookalike.models.download`).
Otherwise :class:`~lookalike.errors.ModelUnavailable` names the model, every folder looked in
and how to get the files (``lookalike models download NAME``).

A model folder is laid out as the two hub repos of CLIP ViT-B/32 side by side::

    FOLDER/vision/  model.onnx  preprocessor_config.json  config.json
    FOLDER/text/    model.onnx  tokenizer.json  tokenizer_config.json
                    special_tokens_map.json  config.json

The ONNX graphs take ``pixel_values`` (N, 3, H, W) and ``input_ids`` (+ ``attention_mask``) and
give the embedding as their first output (``image_embeds``, ``text_embeds``). A folder holding
``model.onnx`` and ``preprocessor_config.json`` directly is a vision-only model: it indexes and
searches by image, and text queries fail with ModelUnavailable. Folders and known models load
through the same fastembed code (``specific_model_path``), so a test model built in a temporary
folder exercises the path the real model takes.

Vectors are float32 and L2-normalised, so a dot product is the cosine. ``model_id`` names what
made them and is stored with each: the spec name for a known model, and for a folder
``folder:<absolute path>#<hash of the vision ONNX file>`` (the text encoder of a folder carries the
same id, since its vectors live in the vision tower's space).

A text query runs the text tower on its own tokens, not padded to the tower's length (CLIP's 77):
the same vector for a causal tower pooled at its end token (CLIP's) or one pooling under its
attention mask, at a fraction of the compute. A spec with ``text_trim`` off (SigLIP 2), or a
graph whose sequence length is fixed, gets every text padded to that length instead.

``precision="int8"`` loads both towers' int8 copies instead (:mod:`lookalike.models.int8`: made
once beside the model files); their vectors carry the id ``<id>@int8``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from lookalike.config import Settings
from lookalike.errors import ModelUnavailable
from lookalike.models.files import Located, Part, download_model, locate, tower_files
from lookalike.models.int8 import int8_model_id, int8_tower
from lookalike.resample import resize
from lookalike.types import Precision

__all__ = [
    "ImageEncoder",
    "TextEncoder",
    "download_model",
    "load_image_encoder",
    "load_text_encoder",
]

_PROBE_TEXT = "a photo"

Device = Literal["cpu", "cuda"]
"""Where an image tower runs: the CPU, or the GPU this process was given."""

log = logging.getLogger(__name__)


class ImageEncoder:
    """Turns decoded PIL images into unit vectors; fastembed crops and normalises.

    The resize to the tower's input size is lookalike's own (:func:`lookalike.resample.resize`,
    to the size fastembed's processor asks for, which then has nothing left to resize): its
    passes run in a fixed order, so a query's vector equals the one its image got at ingest in
    any process, and a single image (a query) shares the resize with a helper thread."""

    def __init__(self, embedding: Any, model_id: str, dim: int) -> None:
        self._embedding = embedding
        self.model_id = model_id
        self.dim = dim
        self._input_size = _bicubic_resize_rule(embedding)

    def embed(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        """(n, dim) float32, one L2-normalised row per image, in order."""
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        split = len(images) == 1
        inputs = [self._resized(image, split) for image in images]
        rows = self._embedding.embed(inputs, batch_size=max(1, batch_size))
        return _unit_rows(np.stack(list(rows)))

    def _resized(self, image: Image.Image, split: bool) -> Image.Image:
        if self._input_size is None or image.mode != "RGB":
            return image
        size = self._input_size(image.size)
        return image if size == image.size else resize(image, size, split=split)


class TextEncoder:
    """Turns text queries into unit vectors in the image encoder's space."""

    def __init__(
        self,
        embedding: Any,
        model_id: str,
        dim: int,
        prefix: str = "",
        layer_norm: bool = False,
        padded_to: int | None = None,
    ) -> None:
        self._embedding = embedding
        self.model_id = model_id
        self.dim = dim
        self._prefix = prefix
        self._layer_norm = layer_norm
        self.padded_to = padded_to
        """The fixed token length every text is padded to; None: a text's own tokens only (a
        batch of texts padded to its longest)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, one L2-normalised row per text, in order."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = np.stack(list(self._embedding.embed([self._prefix + t for t in texts])))
        if self._layer_norm:
            rows = rows - rows.mean(axis=1, keepdims=True)
            rows = rows / np.sqrt(rows.var(axis=1, keepdims=True) + 1e-5)
        return _unit_rows(rows)


def load_image_encoder(
    model: str,
    settings: Settings,
    *,
    threads: int | None = None,
    device: Device = "cpu",
    precision: Precision = "fp32",
) -> ImageEncoder:
    """Load the image tower of ``model``; ``threads`` sets ONNX Runtime's (None: its default);
    ``device`` ``"cuda"`` runs it on this process's GPU (a Ray worker given one)."""
    located = _at_precision(locate(model, settings, "vision"), "vision", precision, settings)
    embedding = _open(located, "vision", threads, onnx_providers(device))
    dim = _output_dim(embedding, located)
    if dim is None:
        probe = Image.new("RGB", (224, 224), (127, 127, 127))
        dim = int(np.stack(list(embedding.embed([probe]))).shape[1])
    _check_dim(located, dim, "vision")
    return ImageEncoder(embedding, located.model_id, dim)


def load_text_encoder(
    model: str,
    settings: Settings,
    *,
    threads: int | None = None,
    precision: Precision = "fp32",
    trim: bool | None = None,
) -> TextEncoder:
    """Load the text tower of ``model``; ModelUnavailable if it has none. ``trim``: feed a
    text's own tokens only (None: as the model's spec says; a folder trims), else pad every text
    to the tower's length; a graph whose sequence length is fixed is always padded to it."""
    located = _at_precision(locate(model, settings, "text"), "text", precision, settings)
    embedding = _open(located, "text", threads)
    spec = located.spec
    padded_to = _pad_tokens(embedding, spec.text_trim if trim is None and spec else trim)
    dim = _output_dim(embedding, located)
    if dim is None:
        dim = int(np.stack(list(embedding.embed([_PROBE_TEXT]))).shape[1])
    _check_dim(located, dim, "text")
    return TextEncoder(
        embedding,
        located.model_id,
        dim,
        prefix=spec.text_prefix if spec else "",
        layer_norm=spec.text_layer_norm if spec else False,
        padded_to=padded_to,
    )


def onnx_providers(device: Device) -> list[str] | None:
    """ONNX Runtime providers for ``device``: ``None`` (its default, the CPU) for ``"cpu"``;
    CUDA first for ``"cuda"`` when this ONNX Runtime has it (the ``onnxruntime-gpu`` package),
    else the CPU with a warning: a run goes on, slower, rather than failing every image."""
    if device == "cpu":
        return None
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        log.warning(
            "a GPU was given, but this ONNX Runtime has no CUDA provider (install "
            "onnxruntime-gpu); the semantic model runs on the CPU"
        )
        return None
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def _at_precision(
    located: Located, part: Part, precision: Precision, settings: Settings
) -> Located:
    """The located tower itself for fp32; for int8 its int8 copy, made now if need be."""
    if precision == "fp32":
        return located
    folder, model_file = tower_files(located, part)
    return dataclasses.replace(
        located,
        model_id=int8_model_id(located.model_id),
        folder=int8_tower(folder, model_file, settings),
    )


def _open(
    located: Located, part: Part, threads: int | None, providers: list[str] | None = None
) -> Any:
    """A fastembed embedding for the located tower; its failures become ModelUnavailable."""
    from fastembed import ImageEmbedding, TextEmbedding

    factory = ImageEmbedding if part == "vision" else TextEmbedding
    options: dict[str, Any] = {"cache_dir": str(located.cache_dir), "threads": threads}
    if providers is not None:
        options["providers"] = providers
    if located.folder is not None:
        options["specific_model_path"] = str(located.folder)
    else:
        options["local_files_only"] = True
    options["lazy_load"] = True  # its session is opened below, with threads that never spin
    where = located.folder or located.cache_dir
    try:
        embedding = factory(located.name, **options)
        _open_session(embedding.model, threads, providers)
        return embedding
    except Exception as exc:  # fastembed and onnxruntime raise plain ValueError/RuntimeError/...
        raise ModelUnavailable(
            f"cannot load the {part} tower of model {located.model_id!r} from {where}: {exc}",
            detail={"model": located.model_id, "looked_in": [str(where)]},
        ) from exc


def _open_session(model: Any, threads: int | None, providers: list[str] | None) -> None:
    """Open the ONNX Runtime session of fastembed's ``model`` (made with ``lazy_load``) as
    fastembed opens it, with threads that sleep rather than spin while they wait for work.

    ONNX Runtime's threads spin between operators by default, holding a core while the thread
    they wait for may have none. A query is one short run among other work (other queries,
    indexing, other processes): on a busy machine a new text took 1.5-1.7x as long, and spinning
    image-tower threads take the cores id and text searches need (docs/performance.md).
    fastembed exposes no such option, so the session is opened here."""
    import onnxruntime
    from fastembed.common.onnx_external_data import link_external_data

    description = model.model_description
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    folder = Path(model._model_dir)
    try:
        path = link_external_data(folder, description.model_file, description.additional_files)
    except OSError:  # a read-only cache: loaded from where it lies, as fastembed does
        path = folder / description.model_file
    model.model = onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=providers or ["CPUExecutionProvider"]
    )
    if hasattr(model, "_ensure_tokenizer"):
        model._ensure_tokenizer()
    else:
        from fastembed.common.preprocessor_utils import load_preprocessor

        model.processor = load_preprocessor(model_dir=folder)


def _check_dim(located: Located, dim: int, part: str) -> None:
    """Files found under a known model's name must be that model: vectors of another size would
    be stored as that model's and never match what the real model gives."""
    spec = located.spec
    if spec is not None and dim != spec.dim:
        where = located.folder or located.cache_dir
        raise ModelUnavailable(
            f"the {part} files of {spec.name} in {where} give vectors of {dim} numbers, but "
            f"{spec.name} gives {spec.dim}: these are another model's files. Put the right "
            "files there, or use the folder itself as the model (--model PATH)",
            detail={"model": spec.name, "folder": str(where), "dim": dim, "expected": spec.dim},
        )


def _pad_tokens(embedding: Any, trim: bool | None) -> int | None:
    """Set the tokenizer's padding for the tower; the fixed length it pads to, or None.

    A CLIP text tower is causal and pools at its end token, so the padding after that token
    never reaches the pooled vector: a query of 6 tokens costs 6 positions, not 77. A graph
    built for one sequence length gets it whatever ``trim`` says; otherwise ``trim`` False pads
    to the tokenizer's length (SigLIP 2 pools at the last position of 64)."""
    inner = getattr(embedding, "model", None)
    tokenizer = getattr(inner, "tokenizer", None)
    padding = getattr(tokenizer, "padding", None)
    if tokenizer is None or padding is None:
        return None
    truncation = tokenizer.truncation or {}
    longest = truncation.get("max_length")
    length = _fixed_sequence(getattr(inner, "model", None))
    if length is not None and (longest is None or longest > length):
        tokenizer.enable_truncation(
            max_length=length, direction=str(truncation.get("direction", "right")).lower()
        )
    elif length is None and trim is False:
        length = longest
    tokenizer.enable_padding(
        direction=str(padding["direction"]).lower(),
        pad_id=padding["pad_id"],
        pad_type_id=padding["pad_type_id"],
        pad_token=padding["pad_token"],
        pad_to_multiple_of=padding.get("pad_to_multiple_of"),
        length=length,
    )
    return length if isinstance(length, int) else None


def _fixed_sequence(session: Any) -> int | None:
    """The sequence length of the graph's ``input_ids`` when the graph fixes it, else None."""
    inputs = session.get_inputs() if session is not None else []
    shape = next((i.shape for i in inputs if i.name == "input_ids"), None)
    if shape is not None and len(shape) == 2 and isinstance(shape[1], int) and shape[1] > 0:
        return int(shape[1])
    return None


def _output_dim(embedding: Any, located: Located) -> int | None:
    """The vector size: the graph's embedding output, else the folder's config.json."""
    inner = getattr(embedding, "model", None)
    session = getattr(inner, "model", None)
    if session is not None:
        wanted = getattr(inner, "ONNX_OUTPUT_NAMES", None) or []
        outputs = session.get_outputs()
        chosen = next((o for o in outputs if o.name in wanted), outputs[0] if outputs else None)
        if chosen is not None and chosen.shape and isinstance(chosen.shape[-1], int):
            return int(chosen.shape[-1])
    if located.folder is not None:
        config = located.folder / "config.json"
        try:
            data = json.loads(Path(config).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        value = data.get("projection_dim") if isinstance(data, dict) else None
        if isinstance(value, int) and value > 0:
            return value
    return None


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit: np.ndarray = rows / np.maximum(norms, np.float32(1e-12))
    return unit


def _bicubic_resize_rule(embedding: Any) -> Callable[[tuple[int, int]], tuple[int, int]] | None:
    """The (width, height) fastembed's processor resizes an image of a given size to, when its
    resize is bicubic (every CLIP-family processor's); None when it resizes otherwise (then it
    resizes itself) or has no processor to read."""
    from fastembed.image.transform.operators import Resize

    transforms = getattr(
        getattr(getattr(embedding, "model", None), "processor", None), "transforms", []
    )
    steps = [t for t in transforms if isinstance(t, Resize)]
    if len(steps) != 1 or steps[0].resample != Image.Resampling.BICUBIC:
        return None
    target = steps[0].size
    if isinstance(target, tuple):  # fastembed keeps (height, width)
        fixed = (int(target[1]), int(target[0]))
        return lambda _size: fixed
    side = int(target)

    def shortest_edge(size: tuple[int, int]) -> tuple[int, int]:  # as fastembed computes it
        width, height = size
        if width <= height:
            return side, int(side * height / width)
        return int(side * width / height), side

    return shortest_edge
