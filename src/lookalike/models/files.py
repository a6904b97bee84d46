"""Where a model's files are: a folder, the model dir, the data folder's ``models/`` (earlier
downloads, or fastembed's cache), or (last) the hub, downloaded by :mod:`.download`.

Looking is cheap and local; the hub is tried only when downloading is allowed and a ~3 s HTTPS
check says it answers, so that a missing model is a clear error at once, not a long hang.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from lookalike.config import Settings
from lookalike.errors import BadInput, ModelUnavailable
from lookalike.models.download import fetch_tower
from lookalike.models.specs import MODELS, ModelSpec, find_spec

if TYPE_CHECKING:
    from fastembed.common.model_description import DenseModelDescription

Part = Literal["vision", "text"]

#: fastembed names whose loaders run a CLIP-style folder (``model.onnx`` at the folder's root).
FOLDER_TOWERS: dict[Part, str] = {
    "vision": "Qdrant/clip-ViT-B-32-vision",
    "text": "Qdrant/clip-ViT-B-32-text",
}
#: Files a tower folder needs besides its ONNX file.
PART_FILES: dict[Part, tuple[str, ...]] = {
    "vision": ("preprocessor_config.json",),
    "text": ("tokenizer.json", "tokenizer_config.json"),
}
HUB_CHECK_SECONDS = 3.0
_TRUTHY = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Located:
    """How to hand a tower to fastembed."""

    name: str
    """fastembed model name: picks its loader, pre- and post-processing."""
    model_id: str
    folder: Path | None
    """A folder holding the tower's files; None: fastembed's cache in ``cache_dir``."""
    cache_dir: Path
    spec: ModelSpec | None = None


def locate(model: str, settings: Settings, part: Part) -> Located:
    """Find ``part`` of ``model`` (a known name or a folder), or raise ModelUnavailable."""
    spec = find_spec(model)
    if spec is not None:
        return _locate_known(spec, settings, part)
    return _locate_folder(model, part)


def tower_files(located: Located, part: Part) -> tuple[Path, str]:
    """The folder holding a located tower and its graph's path inside it (``locate`` has
    downloaded a missing one already)."""
    description = _description(part, located.name)
    model_file = description.model_file
    if located.folder is not None:
        return located.folder, model_file
    repo = _hub_repo(description)
    snapshot = _snapshot(located.cache_dir, repo, model_file)
    if snapshot is None:
        raise ModelUnavailable(
            f"the {part} tower of {located.model_id!r} is not in {located.cache_dir}",
            detail={"model": located.model_id, "looked_in": [str(located.cache_dir)]},
        )
    return snapshot, model_file


def cache_dir(settings: Settings) -> Path:
    """fastembed's cache: downloads land here (hub layout, ``models--org--name/snapshots``)."""
    return settings.data_dir / "models"


def download_model(model: str, settings: Settings) -> Path:
    """Fetch a known model's towers; return the folder that holds them.

    Each tower lands in ``<model_dir>/<hub repo>/`` (with ``settings.model_dir`` set), else in
    ``<data_dir>/models/<hub repo>/``: plain folders that can be copied as is to an offline
    machine. The folder holding them is returned. A progress bar shows the size, speed and time
    left on stderr.
    """
    spec = find_spec(model)
    if spec is None:
        raise BadInput(
            f"cannot download {model!r}: not a known model (known: {', '.join(MODELS)})",
            detail={"model": model},
        )
    blocked = _download_blocked(settings)
    if blocked is None:
        blocked = hub_unreachable()
    if blocked is not None:
        raise ModelUnavailable(
            f"cannot download model {spec.name!r}: {blocked}",
            detail={"model": spec.name, "reason": blocked},
        )
    root = settings.model_dir if settings.model_dir is not None else cache_dir(settings)
    done: set[str] = set()
    for part, name in _towers(spec):
        description = _description(part, name)
        repo = _hub_repo(description)
        if repo in done:
            continue
        done.add(repo)
        files = (description.model_file, *description.additional_files, *PART_FILES[part])
        fetch_tower(repo, files, root / repo, label=f"{spec.name} {part} tower ({repo})")
    return root


def hub_unreachable(timeout: float = HUB_CHECK_SECONDS) -> str | None:
    """None when the hub answers an HTTPS request within ``timeout`` seconds, else why not.

    A real request rather than a TCP connect: some networks accept every connection and only
    fail the TLS handshake. It runs in a daemon thread so that a hanging DNS lookup, which no
    socket timeout covers, cannot outlast ``timeout`` either. Proxies come from the environment.
    """
    import httpx

    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            httpx.head(endpoint, timeout=timeout)
            outcome.append(None)  # any HTTP answer, even an error status, means it is there
        except (httpx.HTTPError, OSError, ValueError) as exc:
            outcome.append(
                f"the model hub is unreachable ({endpoint}: {exc or type(exc).__name__})"
            )

    thread = threading.Thread(target=probe, name="lookalike-hub-check", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"the model hub is unreachable ({endpoint}: no answer within {timeout:g} s)"
    return outcome[0]


def fingerprint(onnx_file: Path) -> str:
    """A short hash of the file's size and its first, middle and last MiB.

    Content rather than mtime, so a copied model keeps its identity; sampled, so a 350 MB file
    costs milliseconds. Different weights differ everywhere, so the samples tell them apart.
    """
    size = onnx_file.stat().st_size
    chunk = 1 << 20
    digest = hashlib.sha256(str(size).encode())
    with open(onnx_file, "rb") as fh:
        for offset in sorted({0, max(0, size // 2 - chunk // 2), max(0, size - chunk)}):
            fh.seek(offset)
            digest.update(fh.read(chunk))
    return digest.hexdigest()[:12]


# ---------------------------------------------------------------- folders


def _locate_folder(model: str, part: Part) -> Located:
    root = Path(model).expanduser().resolve()
    if not root.is_dir():
        raise ModelUnavailable(
            f"model {model!r} is neither a known model ({', '.join(MODELS)}) nor a folder "
            f"({root} does not exist)",
            detail={"model": model, "looked_in": [str(root)]},
        )
    vision = root / "vision"
    if not vision.is_dir() and (root / "model.onnx").is_file():
        vision = root  # a vision-only model: the tower's files at the folder's root
    _require(root, vision, "vision")
    model_id = f"folder:{root}#{fingerprint(vision / 'model.onnx')}"
    folder = vision
    if part == "text":
        folder = root / "text"
        if vision == root or not folder.is_dir():
            raise ModelUnavailable(
                f"model folder {root} has no text part, so it cannot embed text queries "
                f"(expected {folder}/ with model.onnx, tokenizer.json, tokenizer_config.json, "
                "special_tokens_map.json and config.json)",
                detail={"model": str(root), "looked_in": [str(folder)]},
            )
        _require(root, folder, "text")
    return Located(FOLDER_TOWERS[part], model_id, folder, folder)


def _require(root: Path, folder: Path, part: Part) -> None:
    missing = [f for f in ("model.onnx", *PART_FILES[part]) if not (folder / f).is_file()]
    if missing:
        raise ModelUnavailable(
            f"model folder {root}: the {part} part in {folder} lacks {', '.join(missing)} "
            "(layout: FOLDER/vision/{model.onnx, preprocessor_config.json, config.json} and "
            "FOLDER/text/{model.onnx, tokenizer.json, tokenizer_config.json, "
            "special_tokens_map.json, config.json})",
            detail={"model": str(root), "looked_in": [str(folder)], "missing": missing},
        )


# ---------------------------------------------------------------- known models


def _locate_known(spec: ModelSpec, settings: Settings, part: Part) -> Located:
    name = spec.vision if part == "vision" else spec.text
    if name is None:
        raise ModelUnavailable(
            f"model {spec.name!r} has no text tower, so it cannot embed text queries",
            detail={"model": spec.name},
        )
    description = _description(part, name)
    repo = _hub_repo(description)
    files = (description.model_file, *description.additional_files, *PART_FILES[part])
    looked: list[Path] = []
    if settings.model_dir is not None:
        for folder in dict.fromkeys([settings.model_dir / repo, settings.model_dir / name]):
            looked.append(folder)
            if all((folder / f).is_file() for f in files):
                return Located(name, spec.name, folder, folder, spec=spec)
    cache = cache_dir(settings)
    downloaded = cache / repo
    if all((downloaded / f).is_file() for f in files):
        return Located(name, spec.name, downloaded, downloaded, spec=spec)
    looked.append(cache)
    if _in_cache(cache, repo, description.model_file):
        return Located(name, spec.name, None, cache, spec=spec)
    blocked = _download_blocked(settings)
    if blocked is None:
        blocked = hub_unreachable()
        if blocked is None:
            label = f"{spec.name} {part} tower ({repo})"
            folder = fetch_tower(repo, files, downloaded, label=label)
            return Located(name, spec.name, folder, folder, spec=spec)
    raise _missing(spec, part, repo, looked, blocked, settings)


def _missing(
    spec: ModelSpec, part: Part, repo: str, looked: list[Path], reason: str, settings: Settings
) -> ModelUnavailable:
    repos = sorted({_hub_repo(_description(p, n)) for p, n in _towers(spec)})
    places = [str(p) for p in looked[:-1]] + [f"{looked[-1]} (fastembed's cache)"]
    copies = " and ".join(f"DIR/{r}" for r in repos)
    if settings.model_dir is not None:
        target = f"to {settings.model_dir} here, keeping those paths"
    else:
        target = "to a folder here, keeping those paths, and set LOOKALIKE_MODEL_DIR to it"
    hint = (
        f"on a machine with internet access run "
        f"`LOOKALIKE_MODEL_DIR=DIR lookalike models download {spec.name}`, then copy {copies} "
        f"{target}"
    )
    return ModelUnavailable(
        f"model {spec.name!r} is not available: its {part} tower {repo} is not in "
        f"{', '.join(places)}, and {reason}. To get it, {hint}.",
        detail={
            "model": spec.name,
            "looked_in": [str(p) for p in looked],
            "reason": reason,
            "hint": hint,
        },
    )


def _download_blocked(settings: Settings) -> str | None:
    if settings.offline:
        return "downloading is off (the offline setting, LOOKALIKE_OFFLINE)"
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUTHY:
        return "downloading is off (HF_HUB_OFFLINE is set)"
    return None


def _in_cache(cache: Path, repo: str, model_file: str) -> bool:
    """Whether fastembed's cache holds a snapshot of ``repo`` with its ONNX file."""
    return _snapshot(cache, repo, model_file) is not None


def _snapshot(cache: Path, repo: str, model_file: str) -> Path | None:
    """The newest snapshot of ``repo`` in fastembed's cache holding its ONNX file."""
    snapshots = cache / f"models--{repo.replace('/', '--')}" / "snapshots"
    if not snapshots.is_dir():
        return None
    found = [s for s in snapshots.iterdir() if (s / model_file).is_file()]
    return max(found, key=lambda s: s.stat().st_mtime) if found else None


def _towers(spec: ModelSpec) -> list[tuple[Part, str]]:
    towers: list[tuple[Part, str]] = [("vision", spec.vision)]
    if spec.text is not None:
        towers.append(("text", spec.text))
    return towers


def _description(part: Part, name: str) -> DenseModelDescription:
    from fastembed import ImageEmbedding, TextEmbedding

    registry = ImageEmbedding if part == "vision" else TextEmbedding
    for description in registry._list_supported_models():
        if description.model.lower() == name.lower():
            return description
    raise ModelUnavailable(  # a row of specs.MODELS that this fastembed does not know
        f"fastembed does not know the {part} model {name!r}", detail={"model": name}
    )


def _hub_repo(description: DenseModelDescription) -> str:
    return description.sources.hf or description.model
