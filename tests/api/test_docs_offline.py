"""/docs without internet: the Swagger UI page loads its files from this server, open without
a key like the OpenAPI document it shows."""

from __future__ import annotations

import re

import httpx

from lookalike.api.docs import ASSETS
from lookalike.config import Settings
from tests.support.server import live_server, probe_route


def test_docs_load_their_files_from_the_server(live_url: str) -> None:
    r = httpx.get(f"{live_url}/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    loaded = re.findall(r'(?:href|src)="([^"]+)"', r.text)
    assert loaded and all(url.startswith("/docs/assets/") for url in loaded), loaded
    assert "://" not in r.text  # nothing from another site
    for url in loaded:
        asset = httpx.get(f"{live_url}{url}")
        assert asset.status_code == 200 and len(asset.content) > 500
        assert asset.headers["content-type"] == ASSETS[url.rsplit("/", 1)[1]]
    assert httpx.get(f"{live_url}/docs/assets/index.html").status_code == 404  # listed files only
    assert httpx.get(f"{live_url}/docs/assets/..%2F__init__.py").status_code == 404
    assert httpx.get(f"{live_url}/redoc").status_code == 404  # ReDoc needs a CDN: not offered


def test_docs_open_without_a_key(server_settings: Settings) -> None:
    with live_server(server_settings.replace(api_keys=("k",)), setup=probe_route) as url:
        assert httpx.get(f"{url}/docs").status_code == 200
        assert httpx.get(f"{url}/docs/assets/swagger-ui.css").status_code == 200
        assert httpx.get(f"{url}/probe").status_code == 401
