"""Behind a reverse proxy under a sub-path: a real ``lookalike serve --root-path /lookalike``
behind a small proxy on localhost, once stripping the prefix and once keeping it. The page
loads and searches in a real browser under ``/lookalike/``, /docs renders there, and every URL
the page, the docs and the API write stays under the prefix."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from tests.support.encoded import file_b64
from tests.support.proxy import prefix_proxy
from tests.support.server_process import ServerProcess, server_process

pytestmark = pytest.mark.slow

PREFIX = "/lookalike"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("proxied")
    env = {
        "LOOKALIKE_DATA_DIR": str(folder / "data"),
        "LOOKALIKE_OFFLINE": "true",
        "LOOKALIKE_DEFAULT_MODEL": str(tiny_model),
        "LOOKALIKE_DEFAULT_SIGNALS": "semantic,duplicate",
        "LOOKALIKE_DECODE_WORKERS": "1",
    }
    env = {**os.environ, **env}
    with server_process(env, folder / "server.log", ["--root-path", PREFIX + "/"]) as server:
        yield server


def _fill(base: str, photo_files: Path) -> list[str]:
    """A collection with thumbnails, made through the proxy; its ids."""
    files = sorted(photo_files.glob("*.jpg"))
    with httpx.Client(base_url=base + PREFIX, timeout=120) as api:
        made = api.post("/collections", json={"name": "photos", "thumbnails": True})
        assert made.status_code in (200, 201), made.text
        items = [{"id": f.name, "base64": file_b64(f)} for f in files]
        added = api.post("/collections/photos/records", json={"items": items})
        assert added.is_success, added.text
    return [f.name for f in files]


@pytest.mark.parametrize("strip", [True, False], ids=["strips", "keeps"])
def test_api_docs_and_redirects_under_the_prefix(
    served: ServerProcess, photo_files: Path, strip: bool
) -> None:
    with prefix_proxy(served.url, PREFIX, strip=strip) as (base, proxy):
        if strip:
            _fill(base, photo_files)
        with httpx.Client(base_url=base, timeout=60) as http:
            assert http.get(PREFIX + "/health").json()["status"] == "ok"
            assert "photos" in [
                c["name"] for c in http.get(PREFIX + "/collections").json()["collections"]
            ]
            page = http.get(PREFIX + "/")
            assert page.status_code == 200
            for url in re.findall(r'(?:href|src)="([^"#?]+)"', page.text):
                assert not url.startswith("/"), f"the page links {url} outside its prefix"
                assert http.get(PREFIX + "/" + url).status_code == 200, url
            docs = http.get(PREFIX + "/docs").text
            linked = re.findall(r"(?:url: *|href=|src=)['\"]([^'\"]+)['\"]", docs)
            assert linked and all(u.startswith(PREFIX + "/") for u in linked), linked
            for url in linked:
                assert http.get(url).status_code == 200, url
            schema = http.get(PREFIX + "/openapi.json").json()
            assert schema["servers"] == [{"url": PREFIX}]
            bare = http.get(PREFIX)  # the proxy's redirect, then the server's
            assert bare.status_code == 301 and bare.headers["location"] == PREFIX + "/"
            slash = http.get(PREFIX + "/collections/")
            assert slash.status_code in (307, 308)
            assert urlsplit(slash.headers["location"]).path == PREFIX + "/collections"
            hits = http.post(
                PREFIX + "/collections/photos/search", json={"id": "rocket.jpg", "top_k": 2}
            ).json()["results"]
            thumb = hits[0]["thumbnail_url"]
            assert thumb.startswith(PREFIX + "/collections/photos/thumbnails/")
            assert http.get(thumb).headers["content-type"] == "image/jpeg"
        inside = [p for p in proxy.seen if p.startswith(PREFIX)]
        assert bool(inside) is not strip  # the upstream saw the prefix only when it was kept


def test_page_searches_under_the_prefix(
    served: ServerProcess, photo_files: Path, page: Page, shots: Path
) -> None:
    with prefix_proxy(served.url, PREFIX, strip=True) as (base, _):
        with httpx.Client(base_url=base + PREFIX, timeout=60) as api:
            if api.get("/collections/photos").status_code == 404:
                _fill(base, photo_files)
        requested: list[str] = []

        def note(request: Request) -> None:
            if not request.url.startswith(("blob:", "data:")):
                requested.append(urlsplit(request.url).path)

        page.on("request", note)
        page.goto(base + PREFIX + "/")
        expect(page.locator("#collection")).to_have_value("photos")
        query = photo_files / "rocket.jpg"
        page.set_input_files("#query-file", str(query))
        expect(page.locator("#query-summary")).to_contain_text("for “rocket.jpg”")
        with httpx.Client(base_url=base + PREFIX, timeout=60) as api:
            with query.open("rb") as fh:
                expected = api.post(
                    "/collections/photos/search/upload",
                    files={"image": ("rocket.jpg", fh, "image/jpeg")},
                    data={"query": json.dumps({"top_k": 24})},
                ).json()["results"]
        cards = page.locator("#results .card")
        expect(cards).to_have_count(len(expected))
        ids = cards.evaluate_all("els => els.map(e => e.dataset.id)")
        assert ids == [r["id"] for r in expected]
        page.wait_for_function(
            "n => { const imgs = [...document.querySelectorAll('#results .card img')];"
            " return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0); }",
            arg=len(expected),
        )
        page.locator('nav a[data-view="browse"]').first.click()
        expect(page).to_have_url(re.compile(re.escape(base + PREFIX + "/") + r"\?view=browse"))
        page.screenshot(path=str(shots / "proxied-page.png"), full_page=True)
        assert requested and all(p.startswith(PREFIX + "/") for p in requested), requested

        page.goto(base + PREFIX + "/docs")
        expect(page.locator(".swagger-ui .title")).to_contain_text("lookalike")
        expect(page.locator(".opblock").first).to_be_visible()
        assert all(p.startswith(PREFIX + "/") for p in requested), requested
