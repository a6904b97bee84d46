"""/docs without internet: the Swagger UI page loads its files from this server, open without
a key like the OpenAPI document it shows."""

from __future__ import annotations

import re

from lookalike.api.docs import ASSETS
from lookalike.config import Settings
from tests.support.server import ApiClient, in_process, probe_route


def test_docs_load_their_files_from_the_server(api: ApiClient) -> None:
    r = api.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    loaded = re.findall(r'(?:href|src)="([^"]+)"', r.text)
    assert loaded and all(url.startswith("/docs/assets/") for url in loaded), loaded
    assert "://" not in r.text  # nothing from another site
    for url in loaded:
        asset = api.get(url)
        assert asset.status_code == 200 and len(asset.content) > 500
        assert asset.headers["content-type"] == ASSETS[url.rsplit("/", 1)[1]]
    assert api.get("/docs/assets/index.html").status_code == 404  # listed files only
    assert api.get("/docs/assets/..%2F__init__.py").status_code == 404
    assert api.get("/redoc").status_code == 404  # ReDoc needs a CDN: not offered


def test_docs_open_without_a_key(server_settings: Settings) -> None:
    with in_process(server_settings.replace(api_keys=("k",)), setup=probe_route) as api:
        assert api.get("/docs").status_code == 200
        assert api.get("/docs/assets/swagger-ui.css").status_code == 200
        assert api.get("/probe").status_code == 401
