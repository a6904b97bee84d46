"""Images and records as the hosted services send them, made into the core's items and queries.

An image comes as an http(s) URL (fetched by the core's one fetcher, with its address checks)
or as base64; a path on the server is refused: the compatible clients read local files
themselves and send their bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lookalike.engine import Collection
from lookalike.errors import BadInput, LookalikeError
from lookalike.ingest import Failure, IngestReport
from lookalike.sources import Item, decode_base64, item_from_dict

FILE_REFUSED = (
    "{field}: this server does not read images from its own disk; send the image as base64 "
    "or an http(s) URL"
)


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
    if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
        raise BadInput(f"{name} must be an http or https URL, got {value!r}")
    return value


def make_item(
    *,
    id: Any = None,
    url: Any = None,
    base64: Any = None,
    metadata: Mapping[str, Any] | None = None,
    max_bytes: int,
    names: tuple[str, str],
) -> Item:
    """One record to add. Base64 is decoded here so the item's source names its id, which
    lets a failure in the batch be told apart from the others."""
    image = query_image(url=url, base64=base64, max_bytes=max_bytes, names=names)
    if image is None:
        raise BadInput(f"no image: give {names[0]} or {names[1]}")
    spec: dict[str, Any] = {"metadata": dict(metadata or {})}
    if id is not None:
        spec["id"] = id
    spec["url" if isinstance(image, str) else "data"] = image
    item = item_from_dict(spec, max_bytes=max_bytes)
    if item.data is not None and id is None:  # the id comes from the content: name it too
        item.source = f"bytes:{item.id}"
    return item


@dataclass
class Outcome:
    item: Item
    error: LookalikeError | None = None


def add_items(collection: Collection, items: Sequence[Item]) -> list[Outcome]:
    """Add ``items`` in one batch; each gets its own outcome (a batch never fails whole)."""
    report = collection.add(items)
    return outcomes(items, report)


def outcomes(items: Sequence[Item], report: IngestReport) -> list[Outcome]:
    failed: dict[str, Failure] = {}
    for failure in report.failed:
        failed.setdefault(failure.source, failure)
    results = []
    for item in items:
        found = failed.get(item.source, failed.get(item.id))
        results.append(Outcome(item, None if found is None else error_of(found)))
    return results


def error_of(failure: Failure) -> LookalikeError:
    """The typed error a reported failure stands for (its class carries the HTTP status)."""
    return _error_types().get(failure.code, LookalikeError)(failure.message)


def _error_types() -> dict[str, type[LookalikeError]]:
    found: dict[str, type[LookalikeError]] = {}
    stack: list[type[LookalikeError]] = [LookalikeError]
    while stack:
        cls = stack.pop()
        found.setdefault(cls.code, cls)
        stack.extend(cls.__subclasses__())
    return found
