"""Records as requests carry them (JSON items, uploaded files, JSONL lines) turned into the
engine's items. Parsing is the engine's own (``sources.item_from_dict``); what is added here is
the server's rule for ``path`` items (:mod:`lookalike.api.roots`). A bad entry becomes an
``ItemError`` and fails alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lookalike.api.roots import allowed_path
from lookalike.config import Settings
from lookalike.errors import BadInput, LookalikeError
from lookalike.sources import Item, ItemError, item_from_dict, json_lines

__all__ = ["Upload", "jsonl_items", "named", "request_items", "server_item", "upload_items"]

Upload = tuple[str, bytes]
"""An uploaded file: (file name, content)."""


def request_items(specs: Iterable[Any], settings: Settings) -> list[Item | ItemError]:
    """JSON items (``{"id", "url" | "base64" | "path", "metadata", "group"}``), in order."""
    return [_item(spec, f"items[{n}]", settings) for n, spec in enumerate(specs)]


def jsonl_items(body: bytes, settings: Settings) -> list[Item | ItemError]:
    """A JSONL body, one item per non-blank line; a bad line fails as its own item."""
    out: list[Item | ItemError] = []
    for number, obj in json_lines(body.splitlines(), "body"):
        out.append(obj if isinstance(obj, ItemError) else _item(obj, f"line {number}", settings))
    return out


def upload_items(
    files: Sequence[Upload],
    settings: Settings,
    *,
    ids: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    group: str | None = None,
) -> list[Item | ItemError]:
    """Uploaded files; ``ids`` and a list of ``metadata`` go one per file, in order."""
    if ids is not None and len(ids) != len(files):
        raise BadInput(f"{len(ids)} ids for {len(files)} files: give one id per file")
    if isinstance(metadata, Sequence) and len(metadata) != len(files):
        raise BadInput(
            f"{len(metadata)} metadata objects for {len(files)} files: give one object for "
            "all files or one per file"
        )
    out: list[Item | ItemError] = []
    for n, (filename, data) in enumerate(files):
        spec: dict[str, Any] = {"data": data, "group": group}
        if ids is not None:
            spec["id"] = ids[n]
        if isinstance(metadata, Sequence):
            spec["metadata"] = metadata[n]
        elif metadata is not None:
            spec["metadata"] = metadata
        name = filename or f"files[{n}]"
        try:
            item = item_from_dict(spec, max_bytes=settings.max_image_bytes)
        except LookalikeError as exc:
            out.append(ItemError(name, named(exc, name), id=spec.get("id")))
            continue
        item.source = f"upload:{name}"
        out.append(item)
    return out


def _item(spec: Any, where: str, settings: Settings) -> Item | ItemError:
    if not isinstance(spec, Mapping):
        return ItemError(where, BadInput(f"{where}: expected a JSON object"))
    given_id = spec.get("id", spec.get("_id"))
    item_id = None if given_id is None else str(given_id)
    if "data" in spec:  # raw bytes are for the Python API; JSON carries base64
        error = BadInput(f"{where}: unknown field 'data' (send the image as base64)")
        return ItemError(where, error, id=item_id)
    try:
        item = _parsed(spec, settings)
    except LookalikeError as exc:
        return ItemError(where, named(exc, where), id=item_id)
    try:
        return _under_roots(item, settings)
    except LookalikeError as exc:
        return ItemError(item.source, named(exc, where), id=item.id)


def server_item(spec: Mapping[str, Any], settings: Settings) -> Item:
    """One record as the engine's item, under the server's rule for ``path`` (``_file``):
    read only from a file under ``allowed_roots``. Raises what is wrong with the record."""
    return _under_roots(_parsed(spec, settings), settings)


def _parsed(spec: Mapping[str, Any], settings: Settings) -> Item:
    roots = settings.allowed_roots
    base = Path(roots[0]).expanduser() if roots else Path("/")
    return item_from_dict(spec, max_bytes=settings.max_image_bytes, base=base)


def _under_roots(item: Item, settings: Settings) -> Item:
    if item.path is not None:
        item.path = allowed_path(item.path, settings.allowed_roots)
    return item


def named(exc: LookalikeError, where: str) -> LookalikeError:
    """The error with the entry's place in the request in front of its message."""
    if exc.message.startswith(where):
        return exc
    return type(exc)(f"{where}: {exc.message}", detail=exc.detail)
