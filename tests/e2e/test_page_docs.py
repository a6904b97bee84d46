"""/docs in a real browser with every other site unreachable: Swagger UI renders the API from
the files this server ships (no CDN)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from lookalike.config import Settings
from tests.support.server import live_server

pytestmark = pytest.mark.slow


@pytest.fixture
def docs_url(server_settings: Settings) -> Iterator[str]:
    with live_server(server_settings) as url:
        yield url


def test_docs_render_offline(page: Page, docs_url: str, shots: Path) -> None:
    own = urlsplit(docs_url).netloc
    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(docs_url + "/docs")
    expect(page.locator(".swagger-ui .title")).to_contain_text("lookalike")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 20  # the routes are listed
    assert not elsewhere, elsewhere
    page.screenshot(path=str(shots / "docs-offline.png"))
