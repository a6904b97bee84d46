"""int8 copies of ONNX towers: dynamic quantization, made once and cached beside the model.

``precision="int8"`` runs a tower whose weights are stored as 8-bit integers and whose
activations are quantized on the fly (ONNX Runtime's ``quantize_dynamic``): no calibration data
is needed, the file is ~4x smaller, and on CPUs with AVX2 (faster with AVX-512 VNNI) the matrix
products run on integer units. The vectors are close to the fp32 ones but not equal, so an int8
tower has its own model id (``<fp32 id>@int8``) and its vectors never share a collection with
fp32 ones (docs/models.md has the measurements and the accuracy caveat).

The copy of a tower folder ``F`` whose graph is ``F/<path>/<stem>.onnx`` is the folder
``F/int8/<stem>/``: the same layout (the quantized graph at the same relative path, the
preprocessing and tokenizer files copied), so fastembed loads it like the original. A model
folder that cannot be written falls back to ``<data_dir>/models/int8/<fingerprint>-<stem>/``.
A copy is made in a temporary folder and renamed into place under a lock, so two processes
never clash and a half-written copy is never seen; it records the fingerprint of the graph it
was made from, so a changed model is quantized again instead of served stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from lookalike.config import Settings
from lookalike.errors import MissingExtra, ModelUnavailable

__all__ = ["int8_model_id", "int8_tower"]

RECIPE = "dynamic-qint8-v1"
"""What a cached copy was made with; a change of the recipe makes every copy again."""
STAMP = "int8.json"
"""The file, inside a finished copy, naming the graph it was made from and the recipe."""
_OP_TYPES = ["MatMul", "Gemm", "Gather"]
"""Quantized operators: the matrix products carry the compute (and Gather the text tower's token
table). Convolutions stay fp32: ONNX Runtime's ConvInteger is slower than its fp32 Conv on CPU,
and the patch embedding is one convolution out of a ViT's ~70 products."""
_SKIPPED_SUFFIXES = (".onnx", ".onnx_data", ".onnx.data", ".lock")
_MAX_COPIED_BYTES = 64 << 20

log = logging.getLogger(__name__)


def int8_model_id(model_id: str) -> str:
    """The id of the int8 copy of the tower whose fp32 id is ``model_id``."""
    return f"{model_id}@int8"


def int8_tower(folder: Path, model_file: str, settings: Settings) -> Path:
    """The folder of the int8 copy of the tower in ``folder`` (graph at ``model_file``),
    quantized now if no valid copy exists yet."""
    from lookalike.models.files import fingerprint

    source = folder / model_file
    try:
        stamp = {"source": fingerprint(source), "model_file": model_file, "recipe": RECIPE}
    except OSError as exc:
        raise ModelUnavailable(
            f"cannot read {source} to make its int8 copy: {exc}",
            detail={"model": str(folder), "looked_in": [str(source)]},
        ) from exc
    stem = Path(model_file).stem
    places = [
        folder / "int8" / stem,
        settings.data_dir / "models" / "int8" / f"{stamp['source']}-{stem}",
    ]
    for place in places:
        if _valid(place, stamp):
            return place
    failures: list[str] = []
    for place in places:
        try:
            with _locked(place):
                if not _valid(place, stamp):  # another process may have made it meanwhile
                    _make(folder, model_file, place, stamp)
            return place
        except OSError as exc:  # a read-only or full model folder: try the next place
            log.info("cannot write the int8 copy of %s to %s: %s", source, place, exc)
            failures.append(f"{place}: {exc}")
    raise ModelUnavailable(
        f"cannot write an int8 copy of {source}: {'; '.join(failures)}",
        detail={"model": str(folder), "looked_in": [str(p) for p in places]},
    )


def _valid(place: Path, stamp: dict[str, str]) -> bool:
    try:
        found = json.loads((place / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(found == stamp and (place / stamp["model_file"]).is_file())


@contextlib.contextmanager
def _locked(place: Path) -> Iterator[None]:
    """An exclusive lock beside ``place``: a second process waits, then finds the copy made."""
    place.parent.mkdir(parents=True, exist_ok=True)
    with open(place.parent / f"{place.name}.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _make(folder: Path, model_file: str, place: Path, stamp: dict[str, str]) -> None:
    """Quantize into a temporary folder beside ``place``, then rename it into place."""
    tmp = place.parent / f".{place.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        _copy_small_files(folder, tmp)
        target = tmp / model_file
        target.parent.mkdir(parents=True, exist_ok=True)
        _quantize(folder / model_file, target)
        (tmp / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
        if place.exists():  # a stale copy (another graph or recipe): replaced under the lock
            old = place.parent / f".{place.name}.old-{uuid.uuid4().hex[:8]}"
            place.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(place)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _copy_small_files(folder: Path, into: Path) -> None:
    """The tower's preprocessing and tokenizer files, keeping their paths; not its graphs, nor
    the int8 copies themselves."""
    into.mkdir(parents=True)
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] == "int8" or rel.name.startswith(".") or not path.is_file():
            continue
        if rel.name.endswith(_SKIPPED_SUFFIXES) or path.stat().st_size > _MAX_COPIED_BYTES:
            continue
        (into / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, into / rel)


def _quantize(source: Path, target: Path) -> None:
    """Dynamic quantization of ``source``: int8 weights (one scale per output channel, which
    keeps random-like weight rows apart better than one scale per tensor at no cost in speed)."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # onnxruntime's quantizer needs the onnx and sympy packages
        raise MissingExtra(
            f"int8 precision needs ONNX Runtime's quantizer (the onnx and sympy packages) to "
            f'make the model\'s int8 copy: pip install "lookalike[int8]" ({exc})',
            detail={"extra": "int8"},
        ) from exc
    try:
        with _quiet_root_warnings():
            quantize_dynamic(
                source,
                target,
                op_types_to_quantize=_OP_TYPES,
                per_channel=True,
                weight_type=QuantType.QInt8,
            )
    except Exception as exc:  # onnx and onnxruntime raise plain exceptions of many kinds
        if isinstance(exc, OSError):
            raise
        raise ModelUnavailable(
            f"cannot quantize {source} to int8: {type(exc).__name__}: {exc}",
            detail={"model": str(source)},
        ) from exc


@contextlib.contextmanager
def _quiet_root_warnings() -> Iterator[None]:
    """The quantizer logs "run pre-processing first" on the root logger; that advice is for
    static quantization with calibration data, not this."""

    def drop(record: logging.LogRecord) -> bool:
        return record.levelno > logging.WARNING

    root = logging.getLogger()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)
