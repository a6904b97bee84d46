"""The HTTP layer: REST API, compatibility routes and the web page, over :class:`Engine`.

Nothing here decodes, filters or scores: routes parse a request, call the core, format.
``create_app`` is imported on first use, so the CLI reads the server marker (``serve``) without
loading FastAPI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lookalike.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from lookalike.api.app import create_app

        return create_app
    raise AttributeError(f"module 'lookalike.api' has no attribute {name!r}")
