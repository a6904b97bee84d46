"""A transformers CLIPModel with random weights, kept both ways: as transformers saves it (the
reference pipeline loads it with ``from_pretrained``) and exported to ONNX in the layout of
lookalike's model folders (``FOLDER/vision/{model.onnx, preprocessor_config.json, config.json}``).

The same weights on both sides let a test or a benchmark set transformers' CLIPImageProcessor and
CLIPModel against lookalike's semantic signal. Needs torch and transformers (the ``test`` and
``bench`` extras); ``CLIPConfig()`` with no arguments is CLIP ViT-B/32's architecture.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.clip_onnx import (
    BOS,
    EOS,
    IMAGE_SIZE,
    PREPROCESSOR,
    TOKENIZER_CONFIG,
    _write_tokenizer,
)

#: A CLIP small enough to build, export and run in a second or two: the real layer types.
TINY: dict[str, Any] = {
    "projection_dim": 32,
    "vision_config": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": IMAGE_SIZE,
        "patch_size": 32,
    },
    "text_config": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
    },
}


@dataclass(frozen=True)
class ReferenceClip:
    hf: Path
    """``CLIPModel.from_pretrained`` and ``CLIPProcessor.from_pretrained`` load this folder."""
    onnx: Path
    """A lookalike model folder holding the same image tower (``--model`` takes it)."""


def build_reference_clip(
    folder: Path, config: dict[str, Any] | None = None, seed: int = 0
) -> ReferenceClip:
    """Build a random-weight CLIPModel (``config``: CLIPConfig's arguments; None: ViT-B/32) and
    write it under ``folder/hf`` and ``folder/onnx``; a folder already complete is reused."""
    folder = Path(folder)
    built = ReferenceClip(folder / "hf", folder / "onnx")
    done = folder / ".done"
    if done.is_file() and done.read_text() == _stamp(config, seed):
        return built
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizerFast,
    )

    built.hf.mkdir(parents=True, exist_ok=True)
    vocab = _write_tokenizer(built.hf)
    # the text tower pools at the end token of the tokenizer it is given, as CLIP's does
    arguments = dict(config or {})
    arguments["text_config"] = {
        **arguments.get("text_config", {}),
        "bos_token_id": vocab[BOS],
        "eos_token_id": vocab[EOS],
        "pad_token_id": vocab[EOS],
    }
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(**arguments)).eval()
    model.save_pretrained(built.hf)
    tokenizer = CLIPTokenizerFast(
        tokenizer_file=str(built.hf / "tokenizer.json"),
        bos_token=BOS,
        eos_token=EOS,
        pad_token=EOS,
        unk_token=EOS,
    )
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(**PREPROCESSOR), tokenizer=tokenizer
    )
    processor.save_pretrained(built.hf)
    _export_vision(model, built.onnx / "vision")
    done.write_text(_stamp(config, seed))
    return built


def _stamp(config: dict[str, Any] | None, seed: int) -> str:
    return json.dumps({"config": config, "seed": seed, "version": 2}, sort_keys=True)


def _export_vision(model: Any, part: Path) -> None:
    import torch

    class Vision(torch.nn.Module):
        """pixel_values -> image_embeds (projected, not normalised), like the hub's export."""

        def __init__(self, clip: Any) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.clip.vision_model(pixel_values=pixel_values)
            return self.clip.visual_projection(out.pooler_output), out.last_hidden_state

    part.mkdir(parents=True, exist_ok=True)
    sample = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    batch = {0: "batch_size"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracing notes
        torch.onnx.export(
            Vision(model),
            (sample,),
            str(part / "model.onnx"),
            input_names=["pixel_values"],
            output_names=["image_embeds", "last_hidden_state"],
            dynamic_axes={"pixel_values": batch, "image_embeds": batch, "last_hidden_state": batch},
            opset_version=17,
            dynamo=False,
        )
    vision = model.config.vision_config
    (part / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2) + "\n")
    (part / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["CLIPVisionModelWithProjection"],
                "model_type": "clip_vision_model",
                "hidden_size": vision.hidden_size,
                "image_size": vision.image_size,
                "patch_size": vision.patch_size,
                "num_channels": 3,
                "projection_dim": model.config.projection_dim,
                "torch_dtype": "float32",
            },
            indent=2,
        )
        + "\n"
    )


TEXT_EXPORT = "text-export-v2"
"""Written beside an exported text tower; before v2 the tower pooled at transformers' default end
token (49407), which the tiny tokenizer never emits, so every text gave its first token's vector."""


def export_text_tower(built: ReferenceClip) -> Path:
    """Export the text tower of a built CLIP to ``built.onnx / "text"`` (``input_ids`` and
    ``attention_mask`` in, ``text_embeds`` out, the tokenizer files beside it), once; returns
    that folder. Text queries then run through lookalike's own text encoder. The tower pools at
    this tokenizer's end token, as CLIP's own tower pools at CLIP's."""
    part = built.onnx / "text"
    stamp = part / ".export"
    if stamp.is_file() and stamp.read_text() == TEXT_EXPORT:
        return part
    import shutil

    import torch
    from transformers import CLIPModel

    model = CLIPModel.from_pretrained(built.hf).eval()

    class Text(torch.nn.Module):
        """input_ids, attention_mask -> text_embeds (projected, not normalised)."""

        def __init__(self, clip: Any) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out = self.clip.text_model(input_ids=input_ids, attention_mask=attention_mask)
            projected: torch.Tensor = self.clip.text_projection(out.pooler_output)
            return projected

    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    vocab = _write_tokenizer(part)
    ids = torch.full((1, 8), vocab[EOS], dtype=torch.int64)
    ids[0, 0] = vocab[BOS]
    axes = {0: "batch_size", 1: "sequence_length"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Text(model),
            (ids, torch.ones_like(ids)),
            str(part / "model.onnx"),
            input_names=["input_ids", "attention_mask"],
            output_names=["text_embeds"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "text_embeds": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    _write_text_files(part, vocab, model.config.text_config)
    stamp.write_text(TEXT_EXPORT)
    return part


def _write_text_files(part: Path, vocab: dict[str, int], text: Any) -> None:
    """The tokenizer and config files of a text tower, as the hub's CLIP text repo has them."""
    bos, eos = BOS, EOS
    token = {"lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    files: dict[str, dict[str, Any]] = {
        "special_tokens_map.json": {
            "bos_token": {"content": bos, **token},
            "eos_token": {"content": eos, **token},
            "pad_token": eos,
            "unk_token": {"content": eos, **token},
        },
        "tokenizer_config.json": TOKENIZER_CONFIG,
        "config.json": {
            "architectures": ["CLIPTextModelWithProjection"],
            "model_type": "clip_text_model",
            "hidden_size": text.hidden_size,
            "max_position_embeddings": text.max_position_embeddings,
            "projection_dim": text.projection_dim,
            "vocab_size": len(vocab),
            "bos_token_id": vocab[bos],
            "eos_token_id": vocab[eos],
            "pad_token_id": vocab[eos],
            "torch_dtype": "float32",
        },
    }
    for name, data in files.items():
        (part / name).write_text(json.dumps(data, indent=2) + "\n")
