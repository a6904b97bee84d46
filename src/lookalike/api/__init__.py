"""The HTTP layer: REST API, compatibility routes and the web page, over :class:`Engine`.

Nothing here decodes, filters or scores: routes parse a request, call the core, format."""

from lookalike.api.app import create_app

__all__ = ["create_app"]
