"""Images and records as the hosted services send them, made into the core's items and queries.

An image comes as an http(s) URL (fetched by the core's one fetcher, with its address checks),
as base64, or as a path on the server (the Ximilar-style ``_file``), read only under the
``allowed_roots``, by the same rule as the REST API's ``path`` items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lookalike.api.items import named, server_item
from lookalike.api.roots import allowed_path
from lookalike.api.state import ServerState
from lookalike.config import Settings
from lookalike.errors import BadInput, LookalikeError, error_class
from lookalike.sources import Item, ItemError, decode_base64, is_url


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


def image_url(value: Any, name: str) -> str:
    if not isinstance(value, str) or not is_url(value):
        raise BadInput(f"{name} must be an http or https URL, got {value!r}")
    return value


def server_file(value: Any, name: str, settings: Settings) -> Path:
    """The file a request names on the server's disk (field ``name``), if it lies under the
    ``allowed_roots``; refused when there are none."""
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{name} must be a path (a non-empty string)")
    try:
        return allowed_path(value, settings.allowed_roots)
    except LookalikeError as exc:
        raise named(exc, name) from None


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
    """One record to add, from a URL, base64 data or a server-side path. ``names`` are the
    request's fields for them, in that order, for messages (a service without paths names
    two)."""
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


def add_items(
    state: ServerState, name: str, entries: Sequence[Item | ItemError]
) -> list[LookalikeError | None]:
    """Add ``entries`` to collection ``name`` in one batch: for each, in order, its error or
    None (a batch never fails whole). The collection is created by the first batch that holds
    an image to index."""
    if not any(isinstance(e, Item) for e in entries):
        return [e.error if isinstance(e, ItemError) else None for e in entries]
    report = state.collection_or_create(name).add(entries)
    failed = {o.index: o for o in report.outcomes if o.status == "failed"}
    errors: list[LookalikeError | None] = []
    for index in range(len(entries)):
        outcome = failed.get(index)
        if outcome is None:
            errors.append(None)
        else:
            errors.append(error_class(outcome.code)(outcome.message or str(outcome.code)))
    return errors
