"""The page's shell and static files: served from the package, open without a key, nothing else
reachable through /static/."""

from __future__ import annotations

import re

from lookalike.api.routes.page import ASSETS
from lookalike.config import Settings
from tests.support.server import ApiClient, in_process, probe_route


def test_page_and_assets_are_served(api: ApiClient) -> None:
    r = api.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    linked = set(re.findall(r'(?:href|src)="/static/([^"]+)"', r.text))
    assert linked and linked <= set(ASSETS)  # every file the page links is one the server serves
    imported = set()
    for name, media_type in ASSETS.items():
        asset = api.get(f"/static/{name}")
        assert asset.status_code == 200 and asset.content
        assert asset.headers["content-type"] == media_type
        imported |= set(re.findall(r'^import .* from "\./([^"]+)";$', asset.text, re.MULTILINE))
    assert imported and imported <= set(ASSETS)  # every module the scripts import is served


def test_only_listed_assets_are_served(api: ApiClient) -> None:
    for path in ("/static/index.html.bak", "/static/..%2Fapp.py", "/static/../app.py"):
        r = api.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "not_found"


def test_page_opens_without_a_key_the_api_does_not(server_settings: Settings) -> None:
    with in_process(server_settings.replace(api_keys=("k",)), setup=probe_route) as api:
        assert api.get("/").status_code == 200
        assert api.get("/static/app.js").status_code == 200
        assert api.get("/probe").status_code == 401
        assert api.get("/probe", headers={"X-API-Key": "k"}).json() == {"ok": True}
