"""One Settings object, built where the program starts and passed down.

Sources, later ones winning: defaults, a TOML file (``LOOKALIKE_CONFIG``, else
``config.toml`` in the data dir), environment variables ``LOOKALIKE_<FIELD>`` (upper case),
and explicit overrides (CLI flags, test arguments).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from lookalike.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("lookalike", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Every tunable of lookalike, with the default a user gets."""

    data_dir: Path = field(default_factory=_default_data_dir)
    model_dir: Path | None = None
    """Folder holding model files for offline use (``<model_dir>/<hub repo>/``)."""
    default_signals: tuple[str, ...] = ("semantic", "duplicate")
    default_model: str = "clip-vit-b-32"
    offline: bool = False
    """Never try to download a model; fail at once naming the missing files."""

    # images
    max_pixels: int = 100_000_000
    """Images above this many pixels are refused (decompression-bomb guard)."""
    max_image_bytes: int = 50 * 1024 * 1024

    # URL fetching
    allow_private_urls: bool = False
    allowed_networks: tuple[str, ...] = ()
    """Networks (CIDR) reachable even while private addresses are refused, e.g. an internal
    image server: ``10.1.2.0/24``."""
    fetch_timeout: float = 15.0
    fetch_concurrency: int = 8
    fetch_retries: int = 3

    # ingest
    batch_size: int = 16
    """Images per model call and per store write. On 2 CPU cores (AVX2) a ViT-B/32 image tower
    runs ~15 images/s at batches of 8-16 but ~10 at 32; small batches also start the model
    sooner while the decode workers fill the next batch."""
    decode_workers: int = 0
    """Worker processes decoding images; 0 picks ``min(cpu_count, 4)``."""

    # duplicates
    copy_threshold: float | None = None
    """Score from which an image counts as a copy (``--on-duplicate``, ``lookalike duplicates``);
    None uses the measured default (docs/duplicates.md)."""

    # faces
    face_detector: str = "hog"
    """``hog`` (fast, frontal faces) or ``cnn`` (finds turned and small faces; ~11x slower on
    CPU)."""
    face_upsample: int = 1
    """Times the image is doubled before detection: 1 finds faces down to ~40 px at 3x the cost
    of 0, which needs ~80 px."""
    face_cluster_threshold: float = 0.8
    """Score from which two faces are one person when grouping people (docs/faces.md)."""
    # moderation
    nsfw_threshold: float = 0.5
    """An image is unsafe from this ``nsfw`` score on (docs/moderation.md has the measurements)."""
    unsafe_labels: tuple[str, ...] = (
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    )
    """NudeNet classes whose score counts as ``nsfw``; other exposed classes (feet, belly,
    armpits, a male chest) are everyday photos."""

    # store
    hnsw_threshold: int = 20_000
    """Below this many points a collection is searched exactly and no HNSW graph is built."""

    # server
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: tuple[str, ...] = ()
    """Keys accepted by the server (``X-API-Key``, ``Authorization: Bearer|Token``). Without
    keys the server refuses to listen beyond localhost unless told to."""
    cors_origins: tuple[str, ...] = ()
    max_request_bytes: int = 32 * 1024 * 1024
    """Largest request body the server reads (an upload, a JSON or JSONL batch)."""
    allowed_roots: tuple[str, ...] = ()
    """Folders the server may index by server-side ``path``; none by default."""
    server: str | None = None
    """URL of a running lookalike server; the CLI then goes through its API."""
    api_key: str | None = None
    """Key the CLI presents to a server; None uses the first of ``api_keys``."""

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Build settings from file, environment and ``overrides`` (None values ignored)."""
        values: dict[str, Any] = {}
        env = os.environ
        overrides = {k: v for k, v in overrides.items() if v is not None}
        data_dir = overrides.get("data_dir") or env.get("LOOKALIKE_DATA_DIR")
        config_file = env.get("LOOKALIKE_CONFIG")
        if config_file is None:
            base = Path(data_dir) if data_dir else _default_data_dir()
            candidate = base / "config.toml"
            config_file = str(candidate) if candidate.is_file() else None
        if config_file:
            try:
                with open(config_file, "rb") as fh:
                    values.update(tomllib.load(fh))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise BadInput(f"cannot read config file {config_file}: {exc}") from exc
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise BadInput(f"unknown setting(s) in {config_file}: {', '.join(sorted(unknown))}")
        for name in known:
            raw = env.get(f"LOOKALIKE_{name.upper()}")
            if raw is not None and raw != "":
                values[name] = raw
        values.update(overrides)
        return cls(**{k: _coerce(known[k], v) for k, v in values.items()})

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(f: dataclasses.Field[Any], value: Any) -> Any:
    kind = str(f.type)
    try:
        if "Path" in kind:
            return None if value is None else Path(value).expanduser()
        if "tuple" in kind:
            items = value.split(",") if isinstance(value, str) else value
            return tuple(str(s).strip() for s in items if str(s).strip())
        if kind == "bool":
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if kind == "int":
            return int(value)
        if kind == "str | None":
            return None if value is None else str(value)
        if kind in ("float", "float | None"):
            return None if value is None else float(value)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"setting {f.name}: cannot use {value!r}: {exc}") from exc
    return value
