"""The web page: one HTML shell and its static files, shipped in the package (no build step).

The page itself only calls the REST routes; nothing here touches the engine."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.exceptions import HTTPException

router = APIRouter(include_in_schema=False)

_JS = "text/javascript; charset=utf-8"
ASSETS = {
    "app.js": _JS,
    "browse.js": _JS,
    "duplicates.js": _JS,
    "events.js": _JS,
    "filters.js": _JS,
    "http.js": _JS,
    "newcollection.js": _JS,
    "people.js": _JS,
    "region.js": _JS,
    "results.js": _JS,
    "route.js": _JS,
    "state.js": _JS,
    "tiles.js": _JS,
    "ui.js": _JS,
    "upload.js": _JS,
    "viewer.js": _JS,
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
"""The files under /static/, by name: a fixed list, so no request path reaches the disk."""

_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}
_PAGE_HEADERS = {
    **_HEADERS,
    # Everything the page loads comes from this server; thumbnails arrive as blob: URLs and
    # query previews as blob: or data: URLs.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}


def _read(name: str) -> bytes:
    return resources.files("lookalike.api").joinpath("static").joinpath(name).read_bytes()


@router.get("/")
def page() -> Response:
    return Response(
        _read("index.html"), media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS
    )


@router.get("/static/{name}")
def asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, f"no static file {name!r}")
    return Response(_read(name), media_type=media_type, headers=_HEADERS)
