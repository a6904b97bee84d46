"""Request bodies of the collection and record routes (Pydantic), as docs/server.md gives them,
and the field types the other routes' bodies share.

Every body is strict (``strict=True``): ``"yes"`` or ``0`` for a boolean, ``"10"`` for a number
is a 422 naming the field, not a guess. Record items stay plain JSON objects: the engine's own
item parser reads them, so that one bad item fails alone instead of failing the whole request's
validation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lookalike.types import Precision

OnDuplicateField = Literal["allow", "flag", "skip", "reject"]
OnUnsafeField = Literal["allow", "flag", "reject"]
Finite = Annotated[float, Field(allow_inf_nan=False)]
PersonName = Annotated[str, Field(min_length=1, max_length=200)]


def whole_number(value: Any) -> Any:
    """10.0 is an integer to JSON Schema; strict mode would refuse it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(description="1-64 letters, digits, '_', '-', '.' or '@'")
    signals: list[str] | str | None = Field(
        None, description="e.g. ['semantic', 'duplicate'] or 'semantic,duplicate'"
    )
    model: str | None = Field(None, description="a known model name (default: the server's)")
    thumbnails: bool | None = Field(
        None,
        description="keep a small JPEG of each image (about 11 KB a record); "
        "default: the server's thumbnails setting (on)",
    )
    precision: Precision | None = Field(
        None,
        description="how the semantic model runs: fp32, or int8 (its quantized copy, faster on "
        "CPU); default: the server's default_precision",
    )
    on_unsafe: OnUnsafeField | None = Field(
        None, description="with the moderation signal: allow, flag or reject unsafe images"
    )


class AliasSet(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    collection: str = Field(description="the collection the alias names")


class ReindexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    model: str | None = Field(None, description="a known model name (default: unchanged)")
    signals: list[str] | str | None = Field(
        None, description="the new version's signals (default: unchanged)"
    )
    precision: Precision | None = Field(
        None, description="the new version's precision: fp32 or int8 (default: unchanged)"
    )
    drop_previous: bool = Field(False, description="drop the previous version after the switch")


class RecordsAdd(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    items: list[Any] = Field(
        description='objects: {"id"?, "url" | "base64" | "path", "metadata"?, "group"?}'
    )
    on_duplicate: OnDuplicateField = "allow"
    background: bool | None = Field(
        None, description="run as a job (default: for batches of more than 15 items)"
    )


class RecordUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    metadata: dict[str, Any] | None = None
    group: str | None = None
    merge: bool = Field(False, description="add to the metadata instead of replacing it")


class RecordsDelete(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    ids: list[str] = Field(min_length=1)
