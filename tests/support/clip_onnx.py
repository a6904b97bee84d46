"""CLIP-shaped ONNX models with random weights, built with ``onnx.helper`` (no torch, no hub).

The folders mimic the hub repos ``Qdrant/clip-ViT-B-32-vision`` and ``Qdrant/clip-ViT-B-32-text``:
the same file names, the same graph input and output names, the same preprocessing and tokenizer
files, so the code that loads the real model loads these unchanged. Only the weights (random) and
the size differ. Tests may assert plumbing and invariants with them, never semantic quality.

- :func:`build_tiny_clip`: a few nodes per tower; builds in milliseconds, runs in milliseconds.
- :func:`build_vit_b32_vision`: a full-size ViT-B/32 image tower (~88M parameters), for measuring
  ingest speed with the real model's compute.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # loadable by onnxruntime >= 1.14
IMAGE_SIZE = 224
PATCH = 32
MAX_TOKENS = 77
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
#: CLIP's tokenizer settings, written as the text tower's ``tokenizer_config.json``.
TOKENIZER_CONFIG: dict[str, Any] = {
    "add_prefix_space": False,
    "bos_token": BOS,
    "do_lower_case": True,
    "eos_token": EOS,
    "errors": "replace",
    "model_max_length": MAX_TOKENS,
    "pad_token": EOS,
    "tokenizer_class": "CLIPTokenizer",
    "unk_token": EOS,
}
#: CLIP's own preprocessing (shortest edge 224, bicubic, centre crop 224, CLIP's mean and std),
#: written as the model's ``preprocessor_config.json``.
PREPROCESSOR: dict[str, Any] = {
    "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": CLIP_MEAN,
    "image_processor_type": "CLIPImageProcessor",
    "image_std": CLIP_STD,
    "resample": 3,
    "rescale_factor": 1 / 255,
    "size": {"shortest_edge": IMAGE_SIZE},
}
# A handful of byte-pair merges, so the tokenizer is a real (if tiny) BPE like CLIP's.
_MERGES = [
    ("t", "h"),
    ("th", "e</w>"),
    ("a", "n"),
    ("an", "d</w>"),
    ("i", "n"),
    ("in", "g</w>"),
    ("o", "n</w>"),
    ("e", "r</w>"),
    ("c", "a"),
    ("ca", "t</w>"),
    ("d", "o"),
    ("do", "g</w>"),
]


def build_tiny_clip(folder: Path, dim: int = 32, seed: int = 0) -> Path:
    """Write ``folder/vision`` and ``folder/text``: a tiny CLIP pair with random weights."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    _write_vision(folder / "vision", _tiny_vision_graph(rng, dim), dim, hidden=16)
    _write_text(folder / "text", rng, dim)
    return folder


def build_vit_b32_vision(folder: Path, seed: int = 0) -> Path:
    """Write ``folder/vision``: CLIP ViT-B/32's image tower at full size, random fp32 weights.

    Patch 32, width 768, 12 layers of 12 heads, MLP 3072 with quick-GELU, pre- and post-LayerNorm,
    projection to 512: the compute of the real model, so its images/s are the real ones.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    graph, weights = _vit_graph(rng)
    _write_vision(folder / "vision", graph, 512, hidden=768, weights=weights)
    return folder


# ---------------------------------------------------------------- files around the graphs


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _save(
    graph: onnx.GraphProto, path: Path, weights: Sequence[tuple[str, np.ndarray]] = ()
) -> None:
    """Write the model; ``weights`` are float32 initializers streamed straight to the file.

    Serialising ~350 MB of initializers through protobuf takes seconds and several copies, so the
    big tensors are written in protobuf's wire format by hand: a field may appear anywhere in a
    message and repeated fields concatenate, so the graph is its small part followed by one
    ``initializer`` field per weight, whose ``raw_data`` is the array's own buffer.
    """
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="lookalike-tests",
    )
    model.ir_version = IR_VERSION
    if not weights:
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
        return
    small_graph = model.graph.SerializeToString()
    model.ClearField("graph")
    heads = []
    for name, array in weights:
        header = onnx.TensorProto(name=name, data_type=TensorProto.FLOAT, dims=array.shape)
        head = header.SerializeToString() + _field(9, array.nbytes)  # 9: raw_data
        heads.append(_field(5, len(head) + array.nbytes) + head)  # 5: GraphProto.initializer
    graph_size = len(small_graph) + sum(len(h) for h in heads) + sum(a.nbytes for _, a in weights)
    with open(path, "wb") as out:
        out.write(model.SerializeToString())
        out.write(_field(7, graph_size))  # 7: ModelProto.graph
        out.write(small_graph)
        for head, (_, array) in zip(heads, weights, strict=True):
            out.write(head)
            out.write(np.ascontiguousarray(array, dtype="<f4").data)


def _field(number: int, length: int) -> bytes:
    """The key and length prefix of a length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(length)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _write_vision(
    part: Path,
    graph: onnx.GraphProto,
    dim: int,
    hidden: int,
    weights: Sequence[tuple[str, np.ndarray]] = (),
) -> None:
    part.mkdir(parents=True, exist_ok=True)
    _save(graph, part / "model.onnx", weights)
    _write_json(part / "preprocessor_config.json", PREPROCESSOR)
    _write_json(
        part / "config.json",
        {
            "architectures": ["CLIPVisionModelWithProjection"],
            "model_type": "clip_vision_model",
            "hidden_size": hidden,
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH,
            "num_channels": 3,
            "projection_dim": dim,
            "torch_dtype": "float32",
        },
    )


def _write_text(part: Path, rng: np.random.Generator, dim: int) -> None:
    part.mkdir(parents=True, exist_ok=True)
    vocab = _write_tokenizer(part)
    _save(_tiny_text_graph(rng, dim, vocab_size=len(vocab), width=16), part / "model.onnx")
    token = {"lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    _write_json(
        part / "special_tokens_map.json",
        {
            "bos_token": {"content": BOS, **token},
            "eos_token": {"content": EOS, **token},
            "pad_token": EOS,
            "unk_token": {"content": EOS, **token},
        },
    )
    _write_json(part / "tokenizer_config.json", TOKENIZER_CONFIG)
    _write_json(
        part / "config.json",
        {
            "architectures": ["CLIPTextModelWithProjection"],
            "model_type": "clip_text_model",
            "hidden_size": 16,
            "max_position_embeddings": MAX_TOKENS,
            "projection_dim": dim,
            "vocab_size": len(vocab),
            "bos_token_id": vocab[BOS],
            "eos_token_id": vocab[EOS],
            "pad_token_id": vocab[EOS],
            "torch_dtype": "float32",
        },
    )


def _byte_chars() -> list[str]:
    """The printable stand-ins for the 256 bytes used by byte-level BPE (CLIP's first 256 ids)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    chars: dict[int, str] = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def _write_tokenizer(part: Path) -> dict[str, int]:
    """A CLIP-style tokenizer.json: lower-casing, byte-level BPE with ``</w>``, BOS/EOS added."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    base = _byte_chars()
    tokens = base + [c + "</w>" for c in base] + ["".join(pair) for pair in _MERGES] + [BOS, EOS]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    tokenizer = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=list(_MERGES),
            unk_token=EOS,
            continuing_subword_prefix="",
            end_of_word_suffix="</w>",
            fuse_unk=False,
        )
    )
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(
                Regex(
                    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"
                    r"|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
                ),
                behavior="removed",
                invert=True,
            ),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(
        [AddedToken(BOS, normalized=True), AddedToken(EOS, normalized=True)]
    )
    tokenizer.post_processor = processors.RobertaProcessing(
        (EOS, vocab[EOS]), (BOS, vocab[BOS]), trim_offsets=False, add_prefix_space=False
    )
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=vocab[EOS], pad_token=EOS)
    tokenizer.save(str(part / "tokenizer.json"))
    return vocab


# ---------------------------------------------------------------- the tiny graphs


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    if array.dtype != np.float32:
        return numpy_helper.from_array(array, name)
    tensor = onnx.TensorProto(name=name, data_type=TensorProto.FLOAT, dims=array.shape)
    tensor.raw_data = np.ascontiguousarray(array, dtype="<f4").tobytes()
    return tensor


def _randn(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Random weights with standard deviation ``scale`` (uniform: twice as fast as normal)."""
    array = rng.random(shape, dtype=np.float32)
    array -= np.float32(0.5)
    array *= np.float32(scale * 12**0.5)
    return array


def _tiny_vision_graph(rng: np.random.Generator, dim: int) -> onnx.GraphProto:
    """pixel_values → patch conv (stride 32) → flatten all patches → projection → image_embeds.

    Flattening (rather than pooling) the patches makes the tower a random projection of the
    normalised pixels, so near-identical images stay close and different photos do not.
    """
    width, grid = 16, IMAGE_SIZE // PATCH
    nodes = [
        helper.make_node("Conv", ["pixel_values", "patch_w"], ["patches"], strides=[PATCH, PATCH]),
        helper.make_node("Flatten", ["patches"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "proj"], ["image_embeds"]),
        helper.make_node("Reshape", ["patches", "tokens_shape"], ["tokens"]),
        helper.make_node("Transpose", ["tokens"], ["last_hidden_state"], perm=[0, 2, 1]),
    ]
    inits = [
        _init("patch_w", _randn(rng, (width, 3, PATCH, PATCH), (3 * PATCH * PATCH) ** -0.5)),
        _init("proj", _randn(rng, (width * grid * grid, dim), (width * grid * grid) ** -0.5)),
        _init("tokens_shape", np.array([0, width, grid * grid], dtype=np.int64)),
    ]
    return helper.make_graph(
        nodes,
        "tiny_clip_vision",
        [_input("pixel_values", TensorProto.FLOAT, ["batch_size", 3, IMAGE_SIZE, IMAGE_SIZE])],
        [
            _output("image_embeds", TensorProto.FLOAT, ["batch_size", dim]),
            _output("last_hidden_state", TensorProto.FLOAT, ["batch_size", grid * grid, width]),
        ],
        inits,
    )


def _tiny_text_graph(
    rng: np.random.Generator, dim: int, vocab_size: int, width: int
) -> onnx.GraphProto:
    """input_ids (+ attention_mask) → token + position embedding → masked mean → text_embeds."""
    nodes = [
        helper.make_node("Gather", ["token_emb", "input_ids"], ["tok"]),
        helper.make_node("Shape", ["input_ids"], ["ids_shape"]),
        helper.make_node("Slice", ["ids_shape", "one", "two"], ["seq_len"]),
        helper.make_node("Slice", ["pos_emb", "zero", "seq_len", "zero"], ["pos"]),
        helper.make_node("Add", ["tok", "pos"], ["last_hidden_state"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "minus_one"], ["mask3"]),
        helper.make_node("Mul", ["last_hidden_state", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "one"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "one"], ["count"], keepdims=0),
        helper.make_node("Max", ["count", "eps"], ["count_safe"]),
        helper.make_node("Div", ["summed", "count_safe"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "proj"], ["text_embeds"]),
    ]
    inits = [
        _init("token_emb", _randn(rng, (vocab_size, width), 1.0)),
        _init("pos_emb", _randn(rng, (MAX_TOKENS, width), 0.1)),
        _init("proj", _randn(rng, (width, dim), width**-0.5)),
        _init("zero", np.array([0], dtype=np.int64)),
        _init("one", np.array([1], dtype=np.int64)),
        _init("two", np.array([2], dtype=np.int64)),
        _init("minus_one", np.array([-1], dtype=np.int64)),
        _init("eps", np.array(1.0, dtype=np.float32)),
    ]
    return helper.make_graph(
        nodes,
        "tiny_clip_text",
        [
            _input("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
            _input("attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"]),
        ],
        [
            _output("text_embeds", TensorProto.FLOAT, ["batch_size", dim]),
            _output(
                "last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", width]
            ),
        ],
        inits,
    )


def _input(name: str, dtype: int, shape: list[Any]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


_output = _input


# ---------------------------------------------------------------- the full-size ViT-B/32


class _Graph:
    """Collects nodes and initializers with unique names; keeps the ViT builder readable."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.weights: list[tuple[str, np.ndarray]] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint: str, array: np.ndarray) -> str:
        name = self.name(hint)
        self.inits.append(_init(name, array))
        return name

    def weight(self, hint: str, shape: tuple[int, ...], scale: float = 0.02) -> str:
        name = self.name(hint)
        self.weights.append((name, _randn(self.rng, shape, scale)))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def linear(self, x: str, n_in: int, n_out: int, bias: bool = True) -> str:
        y = self.op("MatMul", [x, self.weight("w", (n_in, n_out))])
        if bias:
            y = self.op("Add", [y, self.const("b", np.zeros(n_out, dtype=np.float32))])
        return y

    def layer_norm(self, x: str, width: int) -> str:
        scale = self.const("ln_g", np.ones(width, dtype=np.float32))
        shift = self.const("ln_b", np.zeros(width, dtype=np.float32))
        return self.op("LayerNormalization", [x, scale, shift], axis=-1, epsilon=1e-5)


def _vit_graph(
    rng: np.random.Generator,
    width: int = 768,
    layers: int = 12,
    heads: int = 12,
    mlp: int = 3072,
    dim: int = 512,
) -> tuple[onnx.GraphProto, list[tuple[str, np.ndarray]]]:
    """The graph (small constants inline) and its weights, to be written by :func:`_save`."""
    g = _Graph(rng)
    grid = IMAGE_SIZE // PATCH
    tokens = grid * grid + 1
    head_dim = width // heads

    patches = g.op(
        "Conv", ["pixel_values", g.weight("patch_w", (width, 3, PATCH, PATCH))], strides=[32, 32]
    )
    seq = g.op("Reshape", [patches, g.const("s", np.array([0, width, -1], dtype=np.int64))])
    seq = g.op("Transpose", [seq], perm=[0, 2, 1])  # (N, 49, width)
    batch = g.op(
        "Slice",
        [
            g.op("Shape", ["pixel_values"]),
            g.const("i", np.array([0], dtype=np.int64)),
            g.const("i", np.array([1], dtype=np.int64)),
        ],
    )
    cls_shape = g.op("Concat", [batch, g.const("s", np.array([1, width], dtype=np.int64))], axis=0)
    cls = g.op("Expand", [g.weight("cls", (1, 1, width)), cls_shape])
    x = g.op("Concat", [cls, seq], axis=1)  # (N, 50, width)
    x = g.op("Add", [x, g.weight("pos", (tokens, width))])
    x = g.layer_norm(x, width)  # CLIP's pre-LayerNorm

    split_heads = g.const("s", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = g.const("s", np.array([0, 0, width], dtype=np.int64))
    inv_sqrt = g.const("c", np.array(head_dim**-0.5, dtype=np.float32))
    gelu_k = g.const("c", np.array(1.702, dtype=np.float32))
    for _ in range(layers):
        h = g.layer_norm(x, width)
        q, k, v = (
            g.op(
                "Transpose",
                [g.op("Reshape", [g.linear(h, width, width), split_heads])],
                perm=[0, 2, 1, 3],
            )
            for _ in range(3)
        )
        scores = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
        attn = g.op("Softmax", [g.op("Mul", [scores, inv_sqrt])], axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [attn, v])], perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merge_heads])
        x = g.op("Add", [x, g.linear(ctx, width, width)])
        h = g.linear(g.layer_norm(x, width), width, mlp)
        h = g.op("Mul", [h, g.op("Sigmoid", [g.op("Mul", [h, gelu_k])])])  # quick-GELU
        x = g.op("Add", [x, g.linear(h, mlp, width)])

    last = x
    pooled = g.op("Gather", [x, g.const("i", np.array(0, dtype=np.int64))], axis=1)
    pooled = g.layer_norm(pooled, width)  # CLIP's post-LayerNorm
    embeds = g.linear(pooled, width, dim, bias=False)
    g.nodes.append(helper.make_node("Identity", [embeds], ["image_embeds"]))
    g.nodes.append(helper.make_node("Identity", [last], ["last_hidden_state"]))
    graph = helper.make_graph(
        g.nodes,
        "vit_b32_vision",
        [_input("pixel_values", TensorProto.FLOAT, ["batch_size", 3, IMAGE_SIZE, IMAGE_SIZE])],
        [
            _output("image_embeds", TensorProto.FLOAT, ["batch_size", dim]),
            _output("last_hidden_state", TensorProto.FLOAT, ["batch_size", tokens, width]),
        ],
        g.inits,
    )
    return graph, g.weights
