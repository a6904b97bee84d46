"""Request inputs made into the engine's items and query images, for every route (the
compatibility routes included): JSON items, JSONL lines, uploads, base64, URLs and server-side
paths.

Parsing is the engine's own (``sources.item_from_dict``, ``sources.decode_base64``,
``sources.is_url``); what is added here is the server's rules: a ``path`` names a file under
``allowed_roots`` only, a URL is http(s) only, a request holds at most ``max_request_items``
items, and a body comes with the content type its route reads. A bad entry becomes an
``ItemError`` and fails alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from lookalike.api.state import ServerState
from lookalike.config import Settings
from lookalike.errors import BadImage, BadInput, ForbiddenPath, ImageTooLarge, LookalikeError
from lookalike.fetch import Fetcher
from lookalike.sources import Item, ItemError, decode_base64, is_url, item_from_dict, json_lines

__all__ = [
    "HTTP_URL",
    "JSONL_TYPES",
    "Upload",
    "allowed_path",
    "check_count",
    "fetch_query_image",
    "http_only",
    "http_url",
    "image_url",
    "json_body",
    "jsonl_body",
    "jsonl_items",
    "make_item",
    "media_type",
    "missing_file",
    "multipart_body",
    "multipart_form",
    "named",
    "query_image",
    "request_items",
    "server_file",
    "server_item",
    "upload_bytes",
    "upload_items",
]

Upload = tuple[str, bytes]
"""An uploaded file: (file name, content)."""

HTTP_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s]+$"
"""The URLs a request may give, as a JSON Schema pattern (:func:`http_url` checks them)."""

JSONL_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
"""Content types the JSONL route reads."""


# -- content types -----------------------------------------------------------------------------


def media_type(request: Request) -> str:
    """The request's content type, without parameters, in lower case ('' when none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def json_body(request: Request) -> None:
    """Route dependency: a body sent as anything but JSON is a 415, not a confusing 422 (no
    Content-Type at all is read as JSON)."""
    media = media_type(request)
    if media and media != "application/json" and not media.endswith("+json"):
        raise HTTPException(
            415, f"send the body as JSON (Content-Type: application/json), not {media}"
        )


async def jsonl_body(request: Request) -> bytes:
    """Route dependency: a JSONL body, sent as such (a form or ``text/plain`` body is what a
    web page of another site can send without asking, so it is refused)."""
    media = media_type(request)
    if media not in JSONL_TYPES:
        raise HTTPException(
            415,
            "send the lines as JSONL (Content-Type: application/x-ndjson), "
            f"not {media or 'no type'}",
        )
    return await request.body()


async def multipart_body(request: Request) -> None:
    """Route dependency: an upload sent as anything but a multipart form is a 415, not a
    confusing 422 for the file it then seems to lack."""
    media = media_type(request)
    if media != "multipart/form-data":
        raise HTTPException(415, f"send a multipart/form-data body, not {media or 'no type'}")


async def multipart_form(request: Request, *, max_files: int, max_fields: int) -> FormData:
    """The multipart form of a request (the caller closes it, removing its spooled files)."""
    await multipart_body(request)
    return await request.form(max_files=max_files, max_fields=max_fields)


# -- URLs, base64 and uploads ------------------------------------------------------------------


def http_url(value: Any) -> str | None:
    """``value`` as an http(s) URL for the core's fetcher (its scheme in lower case), or None
    when it is none: any other string would be read as a path on the server."""
    if not isinstance(value, str) or not is_url(value):
        return None
    scheme, _, rest = value.partition("://")
    if not rest or rest != rest.strip():
        return None
    return f"{scheme.lower()}://{rest}"


def http_only(url: str | None) -> str | None:
    """A Pydantic validator's form of :func:`http_url` (a mistake is a 422)."""
    if url is None:
        return None
    checked = http_url(url)
    if checked is None:
        raise ValueError(f"must be an http:// or https:// URL, not {url[:200]!r}")
    return checked


def image_url(value: Any, name: str) -> str:
    checked = http_url(value)
    if checked is None:
        raise BadInput(f"{name} must be an http or https URL, got {value!r}")
    return checked


def query_image(
    *, url: Any = None, base64: Any = None, max_bytes: int, names: tuple[str, str]
) -> bytes | str | None:
    """The image of a query: a URL for the core to fetch, or decoded bytes; None if neither.
    ``names`` are the request's field names for the URL and the base64 data, for messages."""
    url_name, base64_name = names
    if url is not None and base64 is not None:
        raise BadInput(f"give {url_name} or {base64_name}, not both")
    if url is not None:
        return image_url(url, url_name)
    if base64 is not None:
        if not isinstance(base64, str):
            raise BadInput(f"{base64_name} must be a base64 string")
        return decode_base64(base64, max_bytes=max_bytes)
    return None


async def fetch_query_image(image: bytes | str | None, state: ServerState) -> bytes | None:
    """A query image with its URL fetched, by the core's fetcher, on threads of their own: a
    stalled image server then holds none of the threads that answer the other requests."""
    if not isinstance(image, str):
        return image
    # Both made on first use, in the server's event loop (one task at a time: no lock).
    fetcher = state.extras.get(_FETCHER)
    if fetcher is None:  # one fetcher (its connection pool, its TLS context) per server
        fetcher = state.extras[_FETCHER] = Fetcher(state.settings)
        state.extras.setdefault("on_shutdown", []).append(fetcher.close)
    limiter = state.extras.get(_FETCHES)
    if limiter is None:
        limiter = state.extras[_FETCHES] = anyio.CapacityLimiter(
            4 * max(1, state.settings.fetch_concurrency)
        )
    data: bytes = await anyio.to_thread.run_sync(fetcher.fetch, image, limiter=limiter)
    return data


_FETCHER = "inputs.fetcher"
"""``ServerState.extras`` key of the server's fetcher of query images."""
_FETCHES = "inputs.query_fetches"
"""``ServerState.extras`` key of the limiter of query fetches in flight at once (the others
wait their turn without holding a thread)."""


def upload_bytes(image: UploadFile, limit: int) -> bytes:
    """An uploaded image's bytes, refused past ``limit`` without reading further, and refused
    when empty (as empty base64 is)."""
    data = image.file.read(limit + 1)
    named_as = f" {image.filename}" if image.filename else ""
    if len(data) > limit:
        raise ImageTooLarge(
            f"uploaded image{named_as} is more than the {limit} bytes allowed (max_image_bytes)"
        )
    if not data:
        raise BadImage(f"uploaded image{named_as} is empty")
    return data


# -- how many items a request holds ------------------------------------------------------------


def check_count(count: int, settings: Settings, what: str = "items") -> None:
    """Refuse a request of more than ``max_request_items`` items (413), naming the limit."""
    limit = settings.max_request_items
    if count > limit:
        raise HTTPException(
            413,
            f"{count} {what} in one request is more than the {limit} allowed "
            "(max_request_items): send them in several requests",
        )


# -- records -----------------------------------------------------------------------------------


def request_items(specs: Sequence[Any], settings: Settings) -> list[Item | ItemError]:
    """JSON items (``{"id", "url" | "base64" | "path", "metadata", "group"}``), in order."""
    check_count(len(specs), settings)
    return [_item(spec, f"items[{n}]", settings) for n, spec in enumerate(specs)]


def jsonl_items(body: bytes, settings: Settings) -> list[Item | ItemError]:
    """A JSONL body, one item per non-blank line; a bad line fails as its own item."""
    out: list[Item | ItemError] = []
    for number, obj in json_lines(body.splitlines(), "body"):
        check_count(len(out) + 1, settings, "lines")
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
    check_count(len(files), settings, "files")
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
            if not data:
                raise BadImage("the file is empty")
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


def make_item(
    *,
    id: Any = None,
    url: Any = None,
    base64: Any = None,
    path: Any = None,
    metadata: Mapping[str, Any] | None = None,
    settings: Settings,
    names: tuple[str, ...],
) -> Item:
    """One record to add, from a URL, base64 data or a server-side path, as the compatibility
    routes receive them. ``names`` are the request's fields for them, in that order, for
    messages (a service without paths names two)."""
    image = query_image(
        url=url, base64=base64, max_bytes=settings.max_image_bytes, names=(names[0], names[1])
    )
    spec: dict[str, Any] = {"metadata": dict(metadata or {})}
    if id is not None:
        spec["id"] = id
    if image is not None:
        spec["url" if isinstance(image, str) else "data"] = image
    elif path is not None:
        if not isinstance(path, str) or not path.strip():
            raise BadInput(f"{names[2]} must be a path (a non-empty string)")
        spec["path"] = path
    else:
        raise BadInput(f"no image: give {' or '.join(names)}")
    try:
        return server_item(spec, settings)
    except LookalikeError as exc:
        raise (named(exc, names[2]) if "path" in spec else exc) from None


def server_file(value: Any, name: str, settings: Settings) -> Path:
    """The file a request names on the server's disk (field ``name``), if it lies under the
    ``allowed_roots``; refused when there are none."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{name} must be a path (a non-empty string)")
    try:
        return allowed_path(value, settings.allowed_roots)
    except LookalikeError as exc:
        raise named(exc, name) from None


def _parsed(spec: Mapping[str, Any], settings: Settings) -> Item:
    roots = settings.allowed_roots
    base = Path(roots[0]).expanduser() if roots else Path("/")
    return item_from_dict(spec, max_bytes=settings.max_image_bytes, base=base)


def _under_roots(item: Item, settings: Settings) -> Item:
    if item.path is not None:
        item.path = allowed_path(item.path, settings.allowed_roots)
        item.source = str(item.path)  # the real path, as the docs promise, not a link's
    return item


def named(exc: LookalikeError, where: str) -> LookalikeError:
    """The error with the entry's place in the request in front of its message."""
    if exc.message.startswith(where):
        return exc
    return type(exc)(f"{where}: {exc.message}", detail=exc.detail)


def missing_file(where: str) -> RequestValidationError:
    """The 422 of a multipart request without its image part."""
    return RequestValidationError(
        [{"loc": ("body", where), "msg": "an image file is required", "type": "missing"}]
    )


# -- server-side paths -------------------------------------------------------------------------


def allowed_path(given: str | os.PathLike[str], roots: Sequence[str]) -> Path:
    """The real path of ``given`` (relative paths are relative to the first root), if it is a
    file under one of ``roots``; raises :class:`ForbiddenPath` or :class:`BadInput`.

    A remote client names a file on the server's disk, so the check is strict: with no roots
    every path is refused; ``..`` and absolute paths are judged after normalising, before the
    disk is touched (so the answer tells nothing about files elsewhere); then symlinks are
    resolved and the real file must still lie under a root. The resolved path is what gets
    read."""
    name = os.fspath(given)
    if not roots:
        raise ForbiddenPath(
            f"{name}: server-side paths are refused: this server has no allowed_roots "
            "(set LOOKALIKE_ALLOWED_ROOTS to the folders it may index)"
        )
    if "\0" in name:
        raise BadInput(f"{name!r}: a path cannot hold a NUL byte", detail={"path": name})
    as_given = [Path(os.path.abspath(Path(r).expanduser())) for r in roots]
    real_roots = [Path(r).expanduser().resolve() for r in roots]
    target = Path(name)
    if not target.is_absolute():
        target = as_given[0] / target
    lexical = Path(os.path.normpath(target))
    if not any(_under(lexical, r) for r in (*as_given, *real_roots)):
        raise _outside(name)
    try:
        real = lexical.resolve(strict=True)
    except FileNotFoundError:
        raise BadInput(f"{name}: no such file", detail={"path": name}) from None
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a permission problem
        raise BadInput(f"{name}: cannot be read ({exc})", detail={"path": name}) from None
    if not any(_under(real, r) for r in real_roots):
        raise _outside(name, " (through a symbolic link)")
    if not real.is_file():
        raise BadInput(f"{name}: not a file (give image files, one per item)")
    return real


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _outside(name: str, how: str = "") -> ForbiddenPath:
    return ForbiddenPath(
        f"{name}: outside the folders this server may read{how} (allowed_roots)",
        detail={"path": name},
    )
