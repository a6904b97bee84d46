"""Queries: search, moderation of one image, and the duplicate clusters of a collection."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lookalike.client.plans.common import body_of, coll, filter_json, mime
from lookalike.client.shapes import from_dict
from lookalike.client.wire import Call, Plan
from lookalike.sources import is_url, query_image_bytes
from lookalike.types import Cluster, SearchResult


def search(
    name: str, image: Any, query: dict[str, Any], max_bytes: int
) -> Plan[list[SearchResult]]:
    """``query`` holds the JSON options; ``image`` (bytes, a PIL image, a path or a URL) is
    sent as ``image_url`` when a URL, else uploaded."""
    body: dict[str, Any] = {}
    for key, value in query.items():
        if value is None or (key in ("positive", "negative", "group", "scores") and not value):
            continue  # the defaults: left out
        if key in ("positive", "negative", "region", "box"):
            value = list(value)
        elif key == "vector":
            value = [float(x) for x in value]  # numpy arrays too
        elif key == "filter":
            value = filter_json(value)
        body[key] = value
    path = f"{coll(name)}/search"
    if image is None:
        call = Call("POST", path, json=body, idempotent=True)
    elif isinstance(image, str | os.PathLike) and is_url(os.fspath(image)):
        call = Call("POST", path, json={**body, "image_url": os.fspath(image)}, idempotent=True)
    else:
        files = _upload(image, max_bytes)
        fields = {"query": json.dumps(body)}
        call = Call("POST", f"{path}/upload", files=files, data=fields, idempotent=True)
    results = body_of((yield call))["results"]
    return [from_dict(SearchResult, r) for r in results]


def moderate(name: str | None, image: Any, max_bytes: int) -> Plan[dict[str, Any]]:
    """Check one image, as the server would (``name`` None) or as indexing into the collection
    ``name`` would; the image is sent as a search's query image is."""
    path = "/moderate" if name is None else f"{coll(name)}/moderate"
    if isinstance(image, str | os.PathLike) and is_url(os.fspath(image)):
        call = Call("POST", path, json={"image_url": os.fspath(image)}, idempotent=True)
    else:
        call = Call("POST", path, files=_upload(image, max_bytes), idempotent=True)
    return dict(body_of((yield call)))


def _upload(image: Any, max_bytes: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    """The query image as the one file of a multipart request, read as the engine reads it."""
    data, name = query_image_bytes(image, max_bytes=max_bytes)
    if isinstance(image, str | os.PathLike):
        filename = Path(name).name
    else:
        filename = "query" if isinstance(image, bytes | bytearray) else "query.png"
    return [("image", (filename, data, mime(filename)))]


def duplicates(name: str, *, threshold: float | None, keep: str) -> Plan[list[Cluster]]:
    body: dict[str, Any] = {"keep": keep}
    if threshold is not None:
        body["threshold"] = threshold
    call = Call("POST", f"{coll(name)}/duplicates", json=body, timeout=3600.0, idempotent=True)
    reply = body_of((yield call))
    return [from_dict(Cluster, c) for c in reply["clusters"]]
