"""What every plan builds its calls with: paths of the server's routes, the body of a reply,
filters as the server reads them, and the content type of an upload."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from lookalike.client.wire import Reply
from lookalike.errors import InvalidFilter


def q(text: str) -> str:
    return quote(text, safe="")


def coll(name: str) -> str:
    return f"/collections/{q(name)}"


def body_of(reply: Reply | None) -> Any:
    assert reply is not None  # a Call is always answered with a Reply
    return reply.body


def filter_param(filter: Mapping[str, Any] | str | None) -> dict[str, str]:
    if filter is None:
        return {}
    return {"filter": json.dumps(filter_json(filter))}


def filter_json(filter: Mapping[str, Any] | str) -> Any:
    """A filter given as text is sent as the JSON it holds (the server reads it as the engine
    does); text that is not JSON fails here, as it would there."""
    if not isinstance(filter, str):
        return dict(filter)
    try:
        return json.loads(filter)
    except json.JSONDecodeError as exc:
        raise InvalidFilter(f"the filter is not valid JSON: {exc}") from None


def mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
