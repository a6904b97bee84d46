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
    linked = set(re.findall(r'(?:href|src)="(/?)static/([^"]+)"', r.text))
    assert linked and {name for _, name in linked} <= set(ASSETS)  # every file linked is served
    assert not any(slash for slash, _ in linked)  # relative: the page works under a sub-path
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


CALL = re.compile(r'(?:api|fetch|postFiles|open)\(\s*(?:"[A-Z]+",\s*)?"(/[^"]*)"')
"""A call of the page's HTTP helpers, ``xhr.open`` or ``fetch`` with a root-absolute path."""


def test_the_page_scripts_name_no_root_absolute_path() -> None:
    """Every URL the scripts call is relative to the page, so the page works under the sub-path
    a proxy serves it under (``root_path``); the API answers with that prefix where it writes
    URLs itself (``thumbnail_url``)."""
    from importlib import resources

    static = resources.files("lookalike.api").joinpath("static")
    for name in ASSETS:
        if name.endswith(".js"):
            text = static.joinpath(name).read_text(encoding="utf-8")
            calls = CALL.findall(text)
            assert not calls, f"{name} calls root-absolute paths: {calls}"


def test_under_a_root_path_the_prefix_is_served_and_written(server_settings: Settings) -> None:
    settings = server_settings.replace(root_path="/search/")
    assert settings.root_path == "/search"
    with in_process(settings) as api:
        for prefix in ("", "/search"):  # a proxy that strips the prefix, and one that keeps it
            assert api.get(prefix + "/health").json()["status"] == "ok"
            assert api.get(prefix + "/static/app.js").status_code == 200
            docs = api.get(prefix + "/docs").text
            assert "'/search/openapi.json'" in docs and '"/search/docs/assets/' in docs
        assert api.get("/search/openapi.json").json()["servers"] == [{"url": "/search"}]
        moved = api.get("/search/collections/", follow_redirects=False)
        assert moved.headers["location"].endswith("/search/collections")
        assert api.get("/searchx/health").status_code == 404
