"""Where images come from: folders, files, URL lists, JSONL catalogs, base64, as bytes.

Only enumeration and bytes live here; decoding is ``lookalike.images``. Enumeration is lazy
(a catalog of a million lines is streamed) and never raises for one bad entry: it yields an
``ItemError`` and goes on, so a batch never fails whole because of one item.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import io
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from lookalike.config import Settings
from lookalike.errors import BadImage, BadInput, ImageTooLarge, LookalikeError, NotFound
from lookalike.fetch import Fetcher
from lookalike.formats import SUPPORTED_EXTENSIONS, sniff_format
from lookalike.payload import check_metadata
from lookalike.types import QueryImage

__all__ = [
    "Fetcher",
    "Item",
    "ItemError",
    "as_item",
    "content_hash",
    "decode_base64",
    "encode_png",
    "is_pil_image",
    "is_url",
    "iter_items",
    "json_lines",
    "query_image_bytes",
    "path_item",
    "read_file_bytes",
]

_CATALOG_SUFFIXES = {".jsonl", ".ndjson"}
_ID_KEYS = ("id", "_id")
_IMAGE_KEYS = {"path": ("path", "_file"), "url": ("url", "_url"), "base64": ("base64", "_base64")}
_KNOWN_KEYS = {"metadata", "group", *_ID_KEYS, *(k for keys in _IMAGE_KEYS.values() for k in keys)}
_DEFAULT_MAX_BYTES: int = Settings.model_fields["max_image_bytes"].default
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*)://")


@dataclass
class Item:
    """One image to index, before its bytes are read."""

    id: str
    source: str
    path: Path | None = None
    url: str | None = None
    data: bytes | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    group: str | None = None
    root: Path | None = None
    """The folder argument this item was found under (lets ``--prune`` scope deletions)."""


@dataclass
class ItemError:
    """An input line/entry that could not become an Item; reported per item, never raised."""

    source: str
    error: LookalikeError
    id: str | None = None
    """The record id the entry asked for, when it got that far."""


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_NOT_REGULAR = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(name: str | os.PathLike[str], mode: int) -> str:
    """Why a path that is no regular file is refused: reading a FIFO waits for a writer for
    ever, reading a device may never end."""
    kind = next((what for test, what in _NOT_REGULAR if test(mode)), "a special file")
    return f"{os.fspath(name)} is {kind}, not a regular file"


def _open_regular(path: str, flags: int) -> int:
    """An opener refusing anything but a regular file; opened without blocking, so that
    opening a FIFO does not wait for a writer."""
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise BadImage(_not_regular(path, mode))
    os.set_blocking(fd, True)
    return fd


def read_file_bytes(path: Path, *, max_bytes: int) -> bytes:
    """Read a local image, refusing files over ``max_bytes`` and anything but a regular file
    before reading them."""
    try:
        with open(path, "rb", opener=_open_regular) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise ImageTooLarge(f"{path} is {size} bytes, more than the {max_bytes} allowed")
            data = fh.read(max_bytes + 1)  # the file may grow between stat and read
    except OSError as exc:
        raise BadImage(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{path} is more than the {max_bytes} bytes allowed")
    return data


def decode_base64(text: str, *, max_bytes: int) -> bytes:
    """Decode raw base64 (standard or URL-safe, padding optional) or a ``data:`` URL."""
    text = text.strip()
    if text[:5].lower() == "data:":
        header, sep, payload = text[5:].partition(",")
        if not sep:
            raise BadInput("invalid data URL: no ',' before the data")
        if not header.lower().endswith(";base64"):
            data = unquote_to_bytes(payload)
            if len(data) > max_bytes:
                raise ImageTooLarge(f"data URL holds more than the {max_bytes} bytes allowed")
            return data
        text = payload
    compact = "".join(text.split())
    if not compact:
        raise BadImage("empty base64 data: no image")
    if len(compact) // 4 * 3 > max_bytes + 2:
        raise ImageTooLarge(f"base64 data holds more than the {max_bytes} bytes allowed")
    compact = compact.replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadInput(f"invalid base64 data: {exc}") from exc
    if not data:
        raise BadImage("empty base64 data: no image")
    if len(data) > max_bytes:
        raise ImageTooLarge(f"base64 data holds {len(data)} bytes, more than {max_bytes}")
    return data


QUERY_IMAGE_NAME = "<query image>"
"""How messages name a query image given as bytes or a PIL image."""


def query_image_bytes(
    image: QueryImage, *, max_bytes: int, fetch: Callable[[str], bytes] | None = None
) -> tuple[bytes, str]:
    """A query image's bytes and a name for messages: bytes as given, a PIL image as lossless
    PNG, an http(s) URL through ``fetch``, a path read (``NotFound`` when there is no such file).
    The engine and the SDK both read query images here, so they take the same inputs."""
    if isinstance(image, bytes | bytearray):
        return bytes(image), QUERY_IMAGE_NAME
    if not isinstance(image, str | os.PathLike):
        if is_pil_image(image):
            return encode_png(image), QUERY_IMAGE_NAME
        kind = type(image).__name__
        raise BadInput(f"a query image is a path, a URL, bytes or a PIL image, not a {kind}")
    text = os.fspath(image)
    if is_url(text):
        if fetch is None:
            raise BadInput(f"query image {text} is a URL, and URLs are not fetched here")
        return fetch(text), text
    path = Path(text)
    if not path.exists():
        raise NotFound(f"query image {text} does not exist")
    return read_file_bytes(path, max_bytes=max_bytes), text


def is_pil_image(obj: object) -> bool:
    """Whether ``obj`` is a PIL image, without importing Pillow (nobody made one unless it is
    loaded), so the SDK runs without it."""
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(obj, module.Image)


def encode_png(image: Any) -> bytes:
    """A PIL image as PNG bytes (lossless, so whoever decodes them sees the pixels given)."""
    out = io.BytesIO()
    if image.mode not in ("1", "L", "LA", "I", "P", "RGB", "RGBA"):
        image = image.convert("RGB")
    image.save(out, "PNG")
    return out.getvalue()


def iter_items(
    inputs: Sequence[str],
    *,
    metadata_file: Path | None = None,
    group_by_folder: bool = False,
    max_bytes: int = _DEFAULT_MAX_BYTES,
) -> Iterator[Item | ItemError]:
    """Enumerate the images named by ``inputs`` (folders, files, URLs, lists, catalogs).

    ``max_bytes`` bounds inline base64 images, decoded while a catalog is read. A missing or
    unreadable ``metadata_file`` raises BadInput at the first ``next()``: it concerns the whole
    run, not one item; its bad lines are yielded as ItemErrors.
    """
    overrides: dict[str, tuple[dict[str, Any], str | None]] = {}
    if metadata_file is not None:
        yield from _read_metadata_file(Path(metadata_file), overrides)
    for text in inputs:
        for entry in _iter_input(text, group_by_folder, max_bytes):
            if overrides and isinstance(entry, Item) and entry.id in overrides:
                metadata, group = overrides[entry.id]
                entry.metadata = {**entry.metadata, **metadata}
                if group is not None:
                    entry.group = group
            yield entry


# -- one input argument ----------------------------------------------------------------------


def is_url(text: str) -> bool:
    """Whether ``text`` is an http(s) URL (any case), the only URLs fetched; else a path."""
    return text[:8].lower() == "https://" or text[:7].lower() == "http://"


def _other_scheme(text: str, path: Path) -> ItemError | None:
    """An ``ftp://``, ``file://``, ``s3://``... URL, refused as one, unless ``path`` (what it
    would name as a path) exists."""
    scheme = _SCHEME.match(text)
    if scheme is None or os.path.lexists(path):
        return None
    return ItemError(
        text, BadInput(f"{text}: only http and https URLs are supported ({scheme[1]})")
    )


def _extensions() -> frozenset[str]:
    return frozenset((e if e.startswith(".") else "." + e).lower() for e in SUPPORTED_EXTENSIONS)


def _iter_input(text: str, group_by_folder: bool, max_bytes: int) -> Iterator[Item | ItemError]:
    if not text:  # as a path it would name the current folder, walked whole
        yield ItemError(text, BadInput("an empty path: give a folder, a file or a URL"))
        return
    if is_url(text):
        yield Item(id=text, source=text, url=text)
        return
    refused = _other_scheme(text, Path(text))
    if refused is not None:
        yield refused
        return
    path = Path(text).expanduser()
    shown = str(path.absolute())
    if not os.path.lexists(path):
        yield ItemError(shown, BadInput(f"{text}: no such file or folder"))
        return
    if not path.exists():
        yield ItemError(shown, BadInput(f"{text}: broken symlink"))
        return
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        yield from _walk(path.absolute(), group_by_folder)
        return
    if not stat.S_ISREG(mode):  # never opened: a FIFO would block the read
        yield ItemError(shown, BadInput(_not_regular(text, mode)))
        return
    suffix = path.suffix.lower()
    if suffix in _CATALOG_SUFFIXES:
        yield from _read_catalog(path, max_bytes)
    elif suffix in _extensions():
        yield path_item(path)
    else:
        kind = _sniff_file(path)
        if kind == "image":
            yield path_item(path)
        elif kind == "text":
            yield from _read_list(path)
        else:
            yield ItemError(
                shown, BadInput(f"{text}: not an image, folder, URL list or JSONL catalog")
            )


def path_item(path: str | os.PathLike[str]) -> Item:
    """An image file named by a path on its own (a command-line argument, a path given to
    ``index`` or ``add``): its id is its file name, wherever it lies, the way a folder's files
    are named relative to the folder given. The one rule for the CLI, the Python API and the
    SDK alike; a record given as an object (a catalog line, a REST item) names its own id, else
    its ``path`` as written."""
    given = Path(path).expanduser()
    return Item(id=given.name, source=str(given.absolute()), path=given.absolute())


def as_item(spec: Any, max_bytes: int) -> Item | ItemError:
    """One record from what ``add`` takes, in the engine and the SDK alike: an ``Item``, a dict
    as a catalog line (``data`` may be bytes or a PIL image), a path (see :func:`path_item`),
    an http(s) URL, bytes or a PIL image. What cannot be one is an ``ItemError``."""
    if isinstance(spec, ItemError):
        return spec
    if isinstance(spec, Item):
        try:
            _check_id(spec.id)
            check_metadata(spec.metadata)
        except BadInput as exc:
            return ItemError(spec.id, exc)
        return spec
    if isinstance(spec, str | os.PathLike):
        text = os.fspath(spec)
        if is_url(text) and "\0" not in text:  # (a URL is the record's id: no NUL in it)
            return Item(id=text, source=text, url=text)
        if "://" in text or "\0" in text:
            return ItemError(text, BadInput(f"{text!r}: not an http(s) URL nor a usable path"))
        return path_item(text)
    given: dict[str, Any]
    if isinstance(spec, Mapping):
        given = dict(spec)
        if is_pil_image(given.get("data")):
            given["data"] = encode_png(given["data"])
    elif isinstance(spec, bytes | bytearray):
        given = {"data": bytes(spec)}
    elif is_pil_image(spec):
        given = {"data": encode_png(spec)}
    else:
        kind = type(spec).__name__
        message = f"cannot add a {kind}: give a path, a URL, bytes, a PIL image or a dict"
        return ItemError(kind, BadInput(message))
    try:
        return item_from_dict(given, max_bytes=max_bytes)
    except LookalikeError as exc:
        asked = given.get("id")
        label = asked or given.get("path") or given.get("url") or "item"
        return ItemError(str(label), exc, id=None if asked is None else str(asked))


def _sniff_file(path: Path) -> str | None:
    """'image', 'text' or None, from the first bytes of a file with an unknown extension."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except OSError:
        return None
    if sniff_format(head) is not None:
        return "image"
    if b"\0" in head:
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    return "text"


def _walk(root: Path, group_by_folder: bool) -> Iterator[Item | ItemError]:
    """Depth-first, entries sorted by name; symlinked folders followed once each."""
    extensions = _extensions()
    root_stat = root.stat()
    visited = {(root_stat.st_dev, root_stat.st_ino)}

    def visit(folder: Path, rel: str) -> Iterator[Item | ItemError]:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield ItemError(str(folder), BadInput(f"cannot list {folder}: {exc.strerror}"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            child = folder / entry.name
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            try:
                st = os.stat(child)  # follows symlinks
            except OSError as exc:
                if entry.is_symlink():
                    yield ItemError(str(child), BadInput(f"{child}: broken symlink"))
                else:
                    yield ItemError(str(child), BadInput(f"cannot read {child}: {exc.strerror}"))
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in visited:
                    continue  # a symlink loop or a second link to a folder already walked
                visited.add(key)
                yield from visit(child, child_rel)
            elif stat.S_ISREG(st.st_mode) and Path(entry.name).suffix.lower() in extensions:
                group = (child_rel.rpartition("/")[0] or None) if group_by_folder else None
                yield Item(id=child_rel, source=str(child), path=child, group=group, root=root)
            elif not stat.S_ISREG(st.st_mode):  # a FIFO, a device: refused, not read
                yield ItemError(str(child), BadInput(_not_regular(child, st.st_mode)))

    yield from visit(root, "")


def _read_list(path: Path) -> Iterator[Item | ItemError]:
    """A text file: one URL or path per line; paths are relative to the list's folder."""
    base = path.absolute().parent
    try:
        fh = open(path, encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        yield ItemError(str(path), BadInput(f"cannot read {path}: {exc.strerror}"))
        return
    with fh:
        for line in fh:
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            target = base / Path(entry).expanduser()
            if is_url(entry):
                yield Item(id=entry, source=entry, url=entry)
            elif (refused := _other_scheme(entry, target)) is not None:
                yield refused
            else:
                yield Item(id=entry, source=str(target), path=target)


# -- JSONL catalogs ----------------------------------------------------------------------------


class _LineError(Exception):
    pass


def _iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | ItemError]]:
    """(line number, object) for each non-blank line; bad JSON becomes an ItemError."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        yield 0, ItemError(str(path), BadInput(f"cannot read {path}: {exc.strerror}"))
        return
    with fh:
        yield from json_lines(fh, str(path))


def json_lines(
    lines: Iterable[bytes], name: str
) -> Iterator[tuple[int, dict[str, Any] | ItemError]]:
    """(line number, object) for each non-blank line of a JSONL text named ``name`` (a file,
    a request body); a bad line becomes an ItemError naming it."""
    for number, raw in enumerate(lines, start=1):
        where = f"{name}:{number}"
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
            if not text:
                continue
            obj = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            yield number, ItemError(where, BadInput(f"{name}, line {number}: {exc}"))
            continue
        if not isinstance(obj, dict):
            error = BadInput(f"{name}, line {number}: expected a JSON object")
            yield number, ItemError(where, error)
            continue
        yield number, obj


def _pick(obj: dict[str, Any], keys: Sequence[str]) -> Any:
    present = [k for k in keys if obj.get(k) is not None]
    if len(present) > 1:
        raise _LineError(f"use one of {' / '.join(present)}, not both")
    return obj[present[0]] if present else None


def _check_id(record_id: str) -> None:
    """Refuses a ``record_id`` holding a NUL byte: no shell argument, file name or URL can name
    such a record again, and stores may cut the id there. Other characters, newlines included,
    are kept (the REST API's record routes take any of them)."""
    if "\0" in record_id:
        raise BadInput(f"id {record_id!r} holds a NUL byte")


def _parse_common(obj: dict[str, Any]) -> tuple[str | None, dict[str, Any], str | None]:
    """The id, metadata (free keys merged under ``metadata``) and group of a catalog line."""
    raw_id = _pick(obj, _ID_KEYS)
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, (str, int))):
        raise _LineError("id must be a string or an integer")
    if raw_id == "":
        raise _LineError("id is empty")
    metadata = obj.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _LineError("metadata must be a JSON object")
    group = obj.get("group")
    if group is not None and (isinstance(group, bool) or not isinstance(group, (str, int, float))):
        raise _LineError("group must be a string or a number")
    free = {k: v for k, v in obj.items() if k not in _KNOWN_KEYS}
    merged = {**free, **(metadata or {})}
    record_id = None if raw_id is None else str(raw_id)
    try:
        if record_id is not None:
            _check_id(record_id)
        check_metadata(merged)
    except BadInput as exc:
        raise _LineError(exc.message) from None
    return record_id, merged, None if group is None else str(group)


def _read_catalog(path: Path, max_bytes: int) -> Iterator[Item | ItemError]:
    base = path.absolute().parent
    for number, obj in _iter_json_lines(path):
        if isinstance(obj, ItemError):
            yield obj
            continue
        try:
            yield _catalog_item(obj, base, max_bytes)
        except (_LineError, LookalikeError) as exc:
            message = exc.message if isinstance(exc, LookalikeError) else str(exc)
            error_type = type(exc) if isinstance(exc, LookalikeError) else BadInput
            yield ItemError(f"{path}:{number}", error_type(f"{path}, line {number}: {message}"))


def item_from_dict(obj: Mapping[str, Any], *, max_bytes: int, base: Path | None = None) -> Item:
    """One record given as a dict (the Python API): a catalog line's keys, or raw ``data`` bytes
    instead of an image field. Relative paths are relative to ``base`` (the working folder)."""
    spec = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in obj.items()}
    data = spec.pop("data", None)
    try:
        if data is None:
            return _catalog_item(spec, base or Path.cwd(), max_bytes)
        if any(_pick(spec, keys) is not None for keys in _IMAGE_KEYS.values()):
            raise _LineError("give one image field: data, or one of path / url / base64")
        if not isinstance(data, (bytes, bytearray)):
            raise _LineError("data must be bytes")
        item_id, metadata, group = _parse_common(spec)
    except _LineError as exc:
        raise BadInput(str(exc)) from None
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{item_id or 'data'}: {len(data)} bytes is over the {max_bytes} limit")
    return Item(
        id=item_id or content_hash(bytes(data))[:32],
        source=f"bytes:{item_id}" if item_id else "bytes",
        data=bytes(data),
        metadata=metadata,
        group=group,
    )


def _catalog_item(obj: dict[str, Any], base: Path, max_bytes: int) -> Item:
    item_id, metadata, group = _parse_common(obj)
    found = {kind: _pick(obj, keys) for kind, keys in _IMAGE_KEYS.items()}
    given = {kind: value for kind, value in found.items() if value is not None}
    if not given:
        raise _LineError("no image: give one of path / url / base64 (or _file / _url / _base64)")
    if len(given) > 1:
        raise _LineError(f"give one image field, not {' and '.join(sorted(given))}")
    kind, value = next(iter(given.items()))
    if not isinstance(value, str) or (kind != "base64" and not value.strip()):
        raise _LineError(f"{kind} must be a non-empty string")  # empty base64: an empty image
    if kind != "base64" and "\0" in value:  # no file nor URL has one; nor may the id it gives
        raise _LineError(f"{kind} {value!r} holds a NUL byte")
    if kind == "url":
        if not is_url(value):
            raise _LineError(f"only http and https URLs are supported: {value}")
        return Item(id=item_id or value, source=value, url=value, metadata=metadata, group=group)
    if kind == "path":
        target = base / Path(value).expanduser()
        if target.is_dir():  # the line's mistake, reported at its line
            raise _LineError(f"path {value!r} is a folder, not an image file")
        return Item(
            id=item_id or value, source=str(target), path=target, metadata=metadata, group=group
        )
    data = decode_base64(value, max_bytes=max_bytes)
    return Item(
        id=item_id or content_hash(data)[:32],
        source="base64",
        data=data,
        metadata=metadata,
        group=group,
    )


def _read_metadata_file(
    path: Path, overrides: dict[str, tuple[dict[str, Any], str | None]]
) -> Iterator[ItemError]:
    """Fill ``overrides`` (id -> metadata, group) from a JSONL file; yield its bad lines."""
    if not path.exists():
        raise BadInput(f"metadata file {path}: no such file")
    if not path.is_file():
        raise BadInput(f"metadata file {_not_regular(path, path.stat().st_mode)}")
    for number, obj in _iter_json_lines(path):
        if isinstance(obj, ItemError):
            if number == 0:
                raise obj.error
            yield obj
            continue
        try:
            item_id, metadata, group = _parse_common(obj)
            if item_id is None:
                raise _LineError("no id")
        except _LineError as exc:
            yield ItemError(f"{path}:{number}", BadInput(f"{path}, line {number}: {exc}"))
            continue
        old_metadata, old_group = overrides.get(item_id, ({}, None))
        overrides[item_id] = (
            {**old_metadata, **metadata},
            group if group is not None else old_group,
        )
