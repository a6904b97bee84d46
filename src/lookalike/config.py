"""One Settings object, built where the program starts and passed down.

Sources, later ones winning: defaults, a TOML file (``LOOKALIKE_CONFIG``, else
``config.toml`` in the data dir), environment variables ``LOOKALIKE_<FIELD>`` (upper case),
and explicit overrides (CLI flags, test arguments). pydantic-settings reads the file and the
environment; pydantic types and bounds every value, and a wrong one is reported with the setting's
name and the source it came from, never silently coerced (``ture`` is not false).

``Settings(...)`` built directly (tests, embedding code) reads no environment: only ``load``
does, so a program's settings come from one place.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from lookalike.errors import BadInput

ENV_PREFIX = "LOOKALIKE_"

Names = Annotated[tuple[str, ...], NoDecode]
"""A list setting: a TOML array, or a comma-separated environment value."""


def _default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("lookalike", appauthor=False))


class Settings(BaseSettings):
    """Every tunable of lookalike, with the default a user gets."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=False)

    data_dir: Path = Field(default_factory=_default_data_dir)
    model_dir: Path | None = None
    """Folder holding model files for offline use (``<model_dir>/<hub repo>/``)."""
    default_signals: Names = ("semantic", "duplicate")
    default_model: str = "clip-vit-b-32"
    default_precision: Literal["fp32", "int8"] = "fp32"
    """How the semantic model of new collections runs: ``int8`` runs its dynamically quantized
    copy (made once beside the model files), faster on CPU; check the accuracy on your own data
    first (docs/models.md). A collection keeps the precision it was made with."""
    offline: bool = False
    """Never try to download a model; fail at once naming the missing files."""

    # images
    max_pixels: int = Field(100_000_000, ge=1)
    """Images above this many pixels are refused (decompression-bomb guard)."""
    max_image_bytes: int = Field(50 * 1024 * 1024, ge=1)
    decode_pixel_budget: int = Field(400_000_000, ge=1)
    """Pixels decoded at once across all requests of a server; a decode waits for room, so
    memory is bounded by this budget (about 4 bytes a pixel) rather than by the number of
    concurrent uploads. One image larger than the budget still decodes, alone."""

    # URL fetching
    allow_private_urls: bool = False
    allowed_networks: Names = ()
    """Networks (CIDR) reachable even while private addresses are refused, e.g. an internal
    image server: ``10.1.2.0/24``."""
    fetch_timeout: float = Field(15.0, gt=0, le=3600)
    fetch_concurrency: int = Field(8, ge=1, le=256)
    fetch_retries: int = Field(3, ge=0, le=20)

    # ingest
    batch_size: int = Field(16, ge=1, le=4096)
    """Images per model call and per store write. On 2 CPU cores (AVX2) a ViT-B/32 image tower
    runs ~15 images/s at batches of 8-16 but ~10 at 32; small batches also start the model
    sooner while the decode workers fill the next batch."""
    decode_workers: int = Field(0, ge=0, le=256)
    """Worker processes decoding images; 0 picks ``min(cpu_count, 4)``."""

    # duplicates
    copy_threshold: float | None = Field(None, ge=0, le=1)
    """Score from which an image counts as a copy (``--on-duplicate``, ``lookalike duplicates``);
    None uses the measured default (docs/duplicates.md)."""
    query_batch: int = Field(8, ge=1, le=256)
    """Query images embedded at once: queries arriving while the model runs share its next
    call (1: one call per query)."""
    copy_searches: int = Field(1, ge=1, le=256)
    """Copy searches (``signal: duplicate`` by image or id) that extract and verify at once in a
    process: two answer 1.24x as many on 2 cores, at a cost to cheap queries on a busy machine
    (docs/duplicates.md)."""
    copy_second_round: bool = True
    """When a copy search's likely candidates hold no copy, verify its other visual-word
    neighbours too: more small crops found, and a query without copies (most uploads a
    platform checks) answered at 0.72x to 0.88x the rate (docs/duplicates.md)."""
    copy_queue: int = Field(4, ge=0, le=10_000)
    """Copy searches that wait, in arrival order, for a turn; one more is refused with Busy
    (HTTP 503 and ``Retry-After``)."""
    heavy_nice: int = Field(10, ge=0, le=19)
    """Nice value (OS priority) at which the server runs heavy work: inserts, searches by
    image, jobs (:mod:`lookalike.priority`); searches by id or text keep the process's own and
    so get the cores first. 0 runs everything alike."""

    # faces
    face_detector: Literal["hog", "cnn"] = "hog"
    """``hog`` (fast, frontal faces) or ``cnn`` (finds turned and small faces; ~11x slower on
    CPU)."""
    face_upsample: int = Field(1, ge=0, le=3)
    """Times the image is doubled before detection: 1 finds faces down to ~40 px at 3x the cost
    of 0, which needs ~80 px."""
    face_cluster_threshold: float = Field(0.8, ge=0, le=1)
    """Score from which two faces are one person when grouping people (docs/faces.md)."""
    # objects
    object_detector: str | None = None
    """A YOLO-format ONNX detector (file, or folder with ``model.onnx``) for the ``objects``
    signal; none: the signal refuses to start (docs/objects.md)."""
    object_min_score: float = Field(0.3, ge=0, le=1)
    """Detections scoring below this are not kept as objects."""
    object_iou: float = Field(0.5, gt=0, le=1)
    """Overlap (IoU) above which two detections are one object (non-maximum suppression)."""
    object_max: int = Field(10, ge=1, le=100)
    """Most objects kept per image, best scores first."""
    object_classes: Names = ()
    """Detector classes kept as objects; empty: every class."""
    # moderation
    nsfw_threshold: float = Field(0.5, ge=0, le=1)
    """An image is unsafe from this ``nsfw`` score on (docs/moderation.md has the measurements)."""
    unsafe_labels: Names = (
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    )
    """NudeNet classes whose score counts as ``nsfw``; other exposed classes (feet, belly,
    armpits, a male chest) are everyday photos."""

    # store
    store: str = "edge"
    """Where collections live: ``edge`` (the embedded store under ``data_dir``), a Qdrant server
    or cluster ``http(s)://host:6333``, or ``qdrant-local:PATH`` (qdrant-client's local mode;
    ``qdrant-local::memory:`` keeps nothing)."""
    store_prefix: str = ""
    """Prefix of collection names in a server store: several installations share a cluster."""
    store_api_key: str | None = None
    """API key of a server store (Qdrant Cloud, a secured cluster)."""
    store_shards: int = Field(1, ge=1)
    """Shards of each new collection in a server store (``shard_number``)."""
    store_replicas: int = Field(1, ge=1)
    """Copies of each shard in a server store (``replication_factor``)."""
    store_write_consistency: int = Field(1, ge=1)
    """Replicas that must confirm a write in a server store (``write_consistency_factor``)."""
    store_on_disk: bool = False
    """Keep the dense vectors of new collections on disk (memory-mapped), in every store."""
    store_quantization: bool = False
    """Scalar (int8) quantization, kept in RAM, for the dense vectors of new collections in
    every store; searches rescore with the full vectors."""
    hnsw_m: int = Field(16, ge=4, le=128)
    """Links per point in the HNSW graph of new collections, in every store: more finds more of
    the true neighbours and costs memory and build time."""
    hnsw_ef_construct: int = Field(100, ge=8, le=4096)
    """Candidates kept while the HNSW graph of a new collection is built, in every store: fewer
    builds faster and finds fewer of the true neighbours (docs/scaling.md has the trade)."""
    hnsw_ef: int | None = Field(None, ge=1, le=4096)
    """Candidates an HNSW search keeps: more finds more of the true neighbours, slower; unset:
    the collection's ``hnsw_ef_construct``."""
    quantization_oversampling: float = Field(2.0, ge=1, le=16)
    """A quantized collection's search rescores this many times ``top_k`` candidates with the
    full vectors."""
    hnsw_threshold: int = Field(20_000, ge=0)
    """Below this many points a collection is searched exactly and no HNSW graph is built."""
    edge_shard_points: int = Field(100_000, ge=1)
    """Points in one shard of a new embedded collection: beyond it new points go to a new shard
    and the full one's index is built in the background, so no build or swap grows with the
    collection."""
    min_free_bytes: int = Field(256 * 1024 * 1024, ge=0)
    """Free space the data folder must keep: a write that would leave less is refused with
    ``disk_full`` before the store's memory maps hit a full disk. 0 turns the check off."""

    thumbnails: bool = True
    """New collections keep a small JPEG of each image (about 11 KB a record) for the web
    page, unless created with ``thumbnails`` off."""

    # logs
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """What the server logs (also ``--log-level``); the CLI logs only errors unless told."""
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object a line with the request id, for log collectors."""
    slow_request_ms: int = Field(1000, ge=0)
    """Requests slower than this are logged at warning level; 0 logs none."""

    # server
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    """API processes ``lookalike serve`` starts on its one port (also ``--workers``); more than
    one needs a Qdrant server store, which several processes can open."""
    api_keys: Names = ()
    """Keys accepted by the server (``X-API-Key``, ``Authorization: Bearer|Token``). Without
    keys the server refuses to listen beyond localhost unless told to."""
    cors_origins: Names = ()
    max_request_bytes: int = Field(32 * 1024 * 1024, ge=1)
    """Largest request body the server reads (an upload, a JSON or JSONL batch)."""
    max_request_items: int = Field(10_000, ge=1)
    """Most items (records, lines, files, ids) one request may hold; more is a 413."""
    allowed_hosts: Names = ()
    """Host names the server answers to besides localhost names and IP addresses (a request
    naming another ``Host`` is refused, against DNS rebinding); ``.example.com`` covers its
    subdomains, ``*`` any name. Origins on these hosts may also write."""
    allowed_roots: Names = ()
    """Folders the server may index by server-side ``path``; none by default."""
    root_path: str = Field("", pattern=r"^(/[^/?#\s]+)*$")
    """The sub-path a reverse proxy serves lookalike under (``/search``): the API, the page
    and the docs answer there and write their URLs with it; empty at the root."""
    forwarded_allow_ips: Names = ()
    """Addresses of proxies whose ``X-Forwarded-For`` / ``-Proto`` headers the server trusts
    (Uvicorn's ``forwarded_allow_ips``; ``*`` any); none: Uvicorn's default, 127.0.0.1."""
    server: str | None = None
    """URL of a running lookalike server; the CLI then goes through its API."""
    api_key: str | None = None
    """Key the CLI presents to a server; None uses the first of ``api_keys``."""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:  # a lookalike error, like every other wrong input
            raise BadInput(_explain(exc, values, _ORIGIN.get() or {})) from None

    @field_validator(
        "default_signals",
        "allowed_networks",
        "unsafe_labels",
        "object_classes",
        "api_keys",
        "cors_origins",
        "allowed_roots",
        "allowed_hosts",
        "forwarded_allow_ips",
        mode="before",
    )
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple)):
            return tuple(str(s).strip() for s in value if str(s).strip())
        return value

    @field_validator("server", mode="after")
    @classmethod
    def _server_url(cls, value: str | None) -> str | None:
        """An empty ``--server`` is no server, as an empty ``LOOKALIKE_SERVER`` is; anything
        but an http(s) URL with a host is a typo, not a server that cannot be reached."""
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError("not an http(s) URL of a lookalike server (http://HOST:PORT)")
        return value.strip()

    @field_validator("root_path", mode="before")
    @classmethod
    def _trim_root_path(cls, value: Any) -> Any:
        """``/search/`` and ``/search`` name one prefix; ``/`` is the root."""
        return value.rstrip("/") if isinstance(value, str) else value

    @field_validator("data_dir", "model_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        """A folder setting naming a file fails here, in one line naming the setting, rather
        than at the first file made under it."""
        if value is None:
            return None
        value = value.expanduser()
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file, not a folder")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what the caller passes: ``load`` gathers the file and the environment itself so
        # that it knows where each value came from.
        return (init_settings,)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Build settings from file, environment and ``overrides`` (None values ignored)."""
        values, origin = cls.gather(**overrides)
        token = _ORIGIN.set(origin)
        try:
            return cls(**values)
        finally:
            _ORIGIN.reset(token)

    @classmethod
    def gather(cls, **overrides: Any) -> tuple[dict[str, Any], dict[str, str]]:
        """The raw values and, for each, where it came from (``env LOOKALIKE_X``, the file,
        ``flag``): what ``load`` validates and what ``lookalike config`` shows."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(overrides) - set(cls.model_fields)
        if unknown:
            raise BadInput(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        origin: dict[str, str] = {}
        config_file = config_path(overrides.get("data_dir"))
        if config_file is not None:
            from_file = _read_toml(cls, config_file)
            values.update(from_file)
            origin.update(dict.fromkeys(from_file, f"file {config_file}"))
        try:
            from_env = EnvSettingsSource(cls, env_prefix=ENV_PREFIX, case_sensitive=False)()
        except SettingsError as exc:
            raise BadInput(f"environment: {exc}") from None
        from_env = {k: v for k, v in from_env.items() if v != ""}
        values.update(from_env)
        origin.update({k: f"env {ENV_PREFIX}{k.upper()}" for k in from_env})
        values.update(overrides)
        origin.update(dict.fromkeys(overrides, "flag"))
        return values, origin

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes``, validated like every other source."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(changes)
        return type(self)(**values)


_ORIGIN: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "lookalike_settings_origin", default=None
)
"""Where each value being validated came from, for the message of a wrong one."""


def config_path(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The TOML file settings are read from, if there is one."""
    named = os.environ.get("LOOKALIKE_CONFIG")
    if named:
        return Path(named).expanduser()
    data_dir = data_dir or os.environ.get("LOOKALIKE_DATA_DIR")
    base = Path(data_dir).expanduser() if data_dir else _default_data_dir()
    candidate = base / "config.toml"
    return candidate if candidate.is_file() else None


def _read_toml(cls: type[Settings], path: Path) -> dict[str, Any]:
    if not path.is_file():
        problem = "a folder, not a file" if path.is_dir() else "no such file"
        raise BadInput(f"cannot read config file {path}: {problem}")
    try:
        raw = TomlConfigSettingsSource(cls, toml_file=path)()
    except (OSError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        raise BadInput(f"cannot read config file {path}: {exc}") from None
    unknown = set(raw) - set(cls.model_fields)
    if unknown:
        raise BadInput(f"unknown setting(s) in {path}: {', '.join(sorted(unknown))}")
    return raw


def _explain(exc: ValidationError, values: dict[str, Any], origin: dict[str, str]) -> str:
    problems = []
    for e in exc.errors():
        name = str(e["loc"][0]) if e["loc"] else "?"
        where = origin.get(name, "argument")
        value = values.get(name)
        shown = os.fspath(value) if isinstance(value, os.PathLike) else value
        message = str(e["msg"]).removeprefix("Value error, ")  # a validator's own words
        problems.append(f"setting {name} = {shown!r} (from {where}): {message}")
    return "; ".join(problems)
