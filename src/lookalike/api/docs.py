"""``/docs`` that works without internet: Swagger UI's files are served from the
``swagger-ui-bundle-v2`` package (Swagger UI 5, which reads OpenAPI 3.1) instead of a CDN, the
way FastAPI's "custom docs UI static assets" recipe does it. ReDoc (CDN only) is not offered."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
"""The Swagger UI files the docs page loads, by name: no request path reaches the disk."""

DOCS_ASSETS = "/docs/assets/"


def install_docs(app: FastAPI) -> None:
    """Adds ``/docs`` and its assets as plain routes: like FastAPI's own docs route, open
    without an API key (the OpenAPI document is too)."""

    async def docs(request: Request) -> HTMLResponse:
        # Under the prefix the browser sees (``root_path``), like every URL the server writes.
        root = request.scope.get("root_path", "").rstrip("/")
        assets = root + DOCS_ASSETS
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} API",
            swagger_js_url=assets + "swagger-ui-bundle.js",
            swagger_css_url=assets + "swagger-ui.css",
            swagger_favicon_url=assets + "favicon-32x32.png",
        )

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        media_type = ASSETS.get(name)
        if media_type is None:
            return Response(status_code=404)
        data = swagger_ui_path.joinpath(name).read_bytes()
        return Response(data, media_type=media_type, headers={"Cache-Control": "max-age=86400"})

    app.add_route("/docs", docs, include_in_schema=False)
    app.add_route(DOCS_ASSETS + "{name}", asset, include_in_schema=False)
