"""The page offers aliases in its collection picker, and searches through them."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Site
from tests.e2e.test_page import _ids, _open, _wait_results
from tests.support.samples import PHOTO_NAMES

pytestmark = pytest.mark.slow  # a browser, a server and an ingest


def test_an_alias_is_picked_and_searched_like_its_collection(page: Page, site: Site) -> None:
    site.api.put("/aliases/shop", json={"collection": "photos"}).raise_for_status()
    try:
        _open(page, site.url)
        option = page.locator("#collection option[value='shop']")
        expect(option).to_have_text("shop → photos")
        page.select_option("#collection", "shop")
        expect(page.locator("#collection-count")).to_have_text(f"{len(PHOTO_NAMES) + 1} images")
        page.set_input_files("#query-file", str(site.photos / "coffee.jpg"))
        _wait_results(page, "“coffee.jpg”")
        with (site.photos / "coffee.jpg").open("rb") as fh:
            direct = site.api.post(
                "/collections/photos/search/upload",
                files={"image": ("coffee.jpg", fh, "image/jpeg")},
                data={"query": '{"top_k": 24}'},
            )
        shown = _ids(page)
        assert shown and shown == [r["id"] for r in direct.json()["results"]][: len(shown)]
        assert page.evaluate("() => location.search").find("shop") >= 0
    finally:
        site.api.delete("/aliases/shop").raise_for_status()
