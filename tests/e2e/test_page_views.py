"""The page's views beyond one search, in a real browser against a real server: a phone-sized
screen, the viewer, searches as addresses (Back/Forward, shared links, pages of results), the
search mode and score threshold, and browsing the collection page by page.

As in test_page.py, what the page shows is compared with what the REST API answers. Each view
is photographed at 390x844 and 1440x900 into test-artifacts/screenshots/."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Site
from tests.e2e.test_page import (
    _api_search,
    _badges,
    _expect_thumbnails_loaded,
    _ids,
    _open,
    _wait_results,
)
from tests.support.encoded import file_b64
from tests.support.exif_photos import exif_jpeg
from tests.support.samples import PHOTO_NAMES

pytestmark = pytest.mark.slow  # a browser, a server and an ingest

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture
def phone(browser: Browser) -> Any:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"the page raised: {errors}"


def _shot(page: Page, shots: Path, name: str) -> None:
    size = page.viewport_size or {}
    page.screenshot(path=str(shots / f"{name}-{size.get('width')}.png"), full_page=False)


def _no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide"


def _query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_phone_search_fits_and_details_are_a_tap_away(phone: Page, site: Site, shots: Path) -> None:
    page = phone
    _open(page, site.url)
    _no_sideways_scroll(page)
    card = page.locator(".query").bounding_box()
    assert card and card["x"] >= 0 and card["x"] + card["width"] <= PHONE["width"]
    for button in page.locator(".query button[type=submit]").all():
        box = button.bounding_box()
        assert box and box["x"] + box["width"] <= PHONE["width"]  # on screen, not off to the side
    _shot(page, shots, "phone-search-empty")

    page.set_input_files("#query-file", str(site.photos / "astronaut.jpg"))
    _wait_results(page, "“astronaut.jpg”")
    _no_sideways_scroll(page)
    first = page.locator("#results .card").first
    top = first.evaluate("e => e.getBoundingClientRect().top + window.scrollY")
    assert top < PHONE["height"], f"the results start {top} px down"
    preview = page.locator("#dropzone").bounding_box()
    assert preview and preview["height"] <= 200
    _expect_thumbnails_loaded(page, len(_ids(page)))
    _shot(page, shots, "phone-search-results")

    # the details a desktop tooltip held (every score, the source, all metadata) on a tap
    picked = _ids(page)[0]
    first.tap()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    record = site.api.get(f"/collections/photos/records/{picked}").json()
    details = viewer.locator("#viewer-details")
    expect(details).to_contain_text(picked)
    expect(details).to_contain_text(record["metadata"]["subject"])
    expect(details).to_contain_text(str(record["metadata"]["bytes"]))
    expect(details).to_contain_text("semantic")  # the per-signal scores
    _no_sideways_scroll(page)
    box = viewer.bounding_box()
    assert box and box["width"] <= PHONE["width"]
    _shot(page, shots, "phone-viewer")
    page.locator("#viewer-close").tap()
    expect(viewer).to_be_hidden()

    for view in ("Browse", "Duplicates", "People"):
        page.locator("nav.views a", has_text=view).tap()
        expect(page.locator(f"#view-{view.lower()}")).to_be_visible()
        _no_sideways_scroll(page)
        _shot(page, shots, f"phone-{view.lower()}")


def test_searches_are_addresses_back_and_forward_walk_them(
    page: Page, site: Site, shots: Path
) -> None:
    page.set_viewport_size(DESKTOP)
    _open(page, site.url)
    page.fill("#query-text", "a rocket launch")
    page.press("#query-text", "Enter")
    _wait_results(page, "“a rocket launch”")
    assert _query(page)["text"] == ["a rocket launch"]
    by_text = _ids(page)

    picked = by_text[1]
    page.locator("#results .card").nth(1).click()
    expect(page.locator("#viewer")).to_be_visible()
    assert _query(page)["open"] == [picked]
    page.locator("#viewer").get_by_role("button", name="More like this").click()
    _wait_results(page, f"more like “{picked}”")
    assert _query(page)["id"] == [picked] and "open" not in _query(page)
    by_id = [x["id"] for x in _api_search(site, id=picked, signal="semantic")]
    assert _ids(page) == by_id

    page.fill("#query-filter", '{"subject": "living"}')
    page.press("#query-filter", "Enter")
    filtered = [
        x["id"]
        for x in _api_search(site, id=picked, signal="semantic", filter={"subject": "living"})
    ]
    expect(page.locator("#results .card")).to_have_count(len(filtered))
    assert _query(page)["filter"] == ['{"subject": "living"}']
    _shot(page, shots, "address-filtered")

    page.go_back()
    expect(page.locator("#results .card")).to_have_count(len(by_id))
    assert _ids(page) == by_id and page.input_value("#query-filter") == ""
    page.go_back()  # the viewer over the text search
    page.go_back()
    _wait_results(page, "“a rocket launch”")
    assert _ids(page) == by_text and page.input_value("#query-text") == "a rocket launch"
    page.go_forward()
    expect(page.locator("#viewer")).to_be_visible()
    page.go_forward()
    expect(page.locator("#viewer")).to_be_hidden()
    _wait_results(page, f"more like “{picked}”")
    assert _ids(page) == by_id

    # a shared address opens on the same search, in a browser that never saw it
    shared = page.url
    other = page.context.new_page()
    other.goto(shared)
    _wait_results(other, f"more like “{picked}”")
    assert _ids(other) == by_id
    other.close()

    # pages of results: 12, then 24 at page=2, Back to 12
    page.select_option("#top-k", "12")
    expect(page.locator("#results .card")).to_have_count(min(12, len(by_id)))
    if len(by_id) > 12:
        page.click("#more-results")
        expect(page.locator("#results .card")).to_have_count(min(24, len(by_id)))
        assert _query(page)["page"] == ["2"]
        page.go_back()
        expect(page.locator("#results .card")).to_have_count(12)

    # views are addresses too
    page.click("nav >> text=Browse")
    assert _query(page)["view"] == ["browse"]
    page.go_back()
    expect(page.locator("#view-search")).to_be_visible()


def test_search_mode_and_threshold(page: Page, site: Site, shots: Path) -> None:
    page.set_viewport_size(DESKTOP)
    _open(page, site.url)
    # filled once the collection's signals are known: wait for them (semantic and duplicate)
    expect(page.locator("#image-signal option")).to_have_text(["similar images", "copies of it"])
    page.select_option("#image-signal", "duplicate")
    page.set_input_files("#query-file", str(site.photos / "astronaut.jpg"))
    _wait_results(page, "“astronaut.jpg”")
    query = file_b64(site.photos / "astronaut.jpg")
    copies = [x["id"] for x in _api_search(site, image_base64=query, signal="duplicate")]
    similar = [x["id"] for x in _api_search(site, image_base64=query)]
    assert copies != similar  # the mode changes the answer
    ids = _ids(page)
    assert ids == copies and "astronaut-copy.jpg" in ids
    copy = page.locator('#results .card[data-id="astronaut-copy.jpg"]')
    expect(copy.locator(".box.region")).to_have_count(1)  # the copied region drawn
    _shot(page, shots, "mode-copies")

    page.select_option("#image-signal", "semantic")
    page.fill("#query-text", "a cat")
    page.press("#query-text", "Enter")
    _wait_results(page, "“a cat”")
    everything = _api_search(site, text="a cat")
    assert any(x["score"] < 0.6 for x in everything)  # weak matches to hide
    page.select_option("#min-score", "0.6")
    kept = _api_search(site, text="a cat", threshold=0.6)
    expect(page.locator("#results .card")).to_have_count(len(kept))
    assert _ids(page) == [x["id"] for x in kept]
    assert all(float(b) >= 0.6 for b in _badges(page))
    assert _query(page)["min"] == ["0.6"]
    _shot(page, shots, "threshold")


def test_a_duplicate_only_collection_offers_no_words(page: Page, site: Site) -> None:
    r = site.api.post("/collections", json={"name": "copies-only", "signals": ["duplicate"]})
    r.raise_for_status()
    try:
        one = {"id": "coffee.jpg", "base64": file_b64(site.photos / "coffee.jpg")}
        site.api.post("/collections/copies-only/records", json={"items": [one]}).raise_for_status()
        page.goto(site.url + "/?collection=copies-only")
        expect(page.locator("#collection")).to_have_value("copies-only")
        expect(page.locator("#text-form")).to_be_hidden()
        expect(page.locator("#url-form")).to_be_visible()
        expect(page.locator("#empty")).to_contain_text("Search “copies-only”")
        expect(page.locator("#empty")).not_to_contain_text("words")
        expect(page.locator("#image-signal-field")).to_be_hidden()  # one mode: nothing to choose
    finally:
        site.api.delete("/collections/copies-only")


def test_browse_pages_through_the_collection(page: Page, site: Site, shots: Path) -> None:
    page.set_viewport_size(DESKTOP)
    # small pages, so that the cursor is followed several times
    page.route(
        re.compile(r"/collections/photos/records\?"),
        lambda route: route.continue_(url=route.request.url.replace("limit=48", "limit=3")),
    )
    listed: list[str] = []
    offset = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"offset": offset} if offset else {})}
        params["sort"] = "-indexed_at"  # the browse view's order unless the address names one
        body = site.api.get("/collections/photos/records", params=params).json()
        listed += [r["id"] for r in body["records"]]
        offset = body["next_offset"]
        if not offset:
            break
    assert len(listed) == site.api.get("/collections/photos/count").json()["count"] > 6
    page.goto(site.url + "/?view=browse&collection=photos")
    expect(page.locator("#browse .card").first).to_be_visible()
    for _ in range(10):  # scrolling down loads the next page
        if page.locator("#browse .card").count() == len(listed):
            break
        page.locator("#browse .card").last.scroll_into_view_if_needed()
        page.mouse.wheel(0, 3000)
        page.wait_for_timeout(300)
    expect(page.locator("#browse .card")).to_have_count(len(listed))
    shown: list[str] = page.locator("#browse .card").evaluate_all(
        "els => els.map(e => e.dataset.id)"
    )
    assert shown == listed
    expect(page.locator("#browse-more")).to_be_hidden()
    _shot(page, shots, "browse")

    page.locator("#browse .card").first.click()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".viewer-frame img")).to_have_count(1)
    actions = viewer.locator("#viewer-actions").inner_text()
    assert "More like this" in actions and "Find copies" in actions and "Open image" in actions
    _shot(page, shots, "viewer")
    viewer.get_by_role("button", name="Find copies").click()
    _wait_results(page, f"copies of “{listed[0]}”")
    expected = _api_search(site, id=listed[0], signal="duplicate")
    assert _ids(page) == [x["id"] for x in expected]
    assert _query(page)["signal"] == ["duplicate"]


def test_new_collection_dialog_chooses_signals_and_same_images_are_named(
    page: Page, site: Site, tmp_path: Path, shots: Path
) -> None:
    page.set_viewport_size(DESKTOP)
    catalog = site.api.get("/catalog").json()
    _open(page, site.url)
    page.click("#new-collection")
    boxes = page.locator("#collection-signals input[type=checkbox]")
    expect(boxes).to_have_count(len(catalog["signals"]))
    ticked = [b.get_attribute("value") for b in boxes.all() if b.is_checked()]
    assert ticked == catalog["default_signals"]
    expect(page.locator("#collection-model")).to_have_value(catalog["default_model"])
    page.fill("#collection-name", "picked")
    for box in boxes.all():
        box.set_checked(box.get_attribute("value") in ("duplicate", "exif"))
    expect(page.locator("#collection-model")).to_be_disabled()  # no semantic signal, no model
    _shot(page, shots, "new-collection")
    page.click("#collection-form button[type=submit]")
    try:
        expect(page.locator("#collection")).to_have_value("picked")
        info = site.api.get("/collections/picked").json()
        assert info["signals"] == ["duplicate", "exif"] and info["thumbnails"] is True
        expect(page.locator("#text-form")).to_be_hidden()  # no signal reads words

        again = tmp_path / "coffee-again.jpg"
        again.write_bytes((site.photos / "coffee.jpg").read_bytes())
        page.set_input_files("#upload-files", [str(site.photos / "coffee.jpg"), str(again)])
        report = page.locator("#upload-report")
        expect(report).to_contain_text("Upload finished")
        expect(report).to_contain_text("1 indexed")
        expect(report).to_contain_text("1 skipped")
        expect(report.locator("li")).to_have_text(
            ["coffee-again.jpg: same image as coffee.jpg (skipped)"]
        )
        assert site.api.get("/collections/picked/count").json()["count"] == 1
        _shot(page, shots, "upload-same-image")
    finally:
        site.api.delete("/collections/picked")


def test_filters_without_json(page: Page, site: Site, shots: Path) -> None:
    page.set_viewport_size(DESKTOP)
    api = site.api
    api.post(
        "/collections", json={"name": "trips", "signals": ["duplicate", "exif"], "thumbnails": True}
    ).raise_for_status()
    try:
        names = list(PHOTO_NAMES)[:6]
        items = [
            {
                "id": name,
                "base64": base64.b64encode(exif_jpeg(name, i)).decode(),
                "metadata": {"trip": "alps" if i < 3 else "sea", "day": i + 1},
            }
            for i, name in enumerate(names)
        ]
        api.post("/collections/trips/records", json={"items": items}).raise_for_status()
        page.goto(site.url + "/?view=browse&collection=trips")
        expect(page.locator("#browse .card")).to_have_count(len(names))
        page.click("nav >> text=Search")  # the controls sit under the Filter box
        page.locator("#filter-controls summary").click()
        expect(page.locator("#f-camera option")).to_have_count(len(names) + 1)  # any + cameras
        _shot(page, shots, "filters")

        def built() -> dict[str, Any]:
            value: dict[str, Any] = json.loads(page.input_value("#query-filter") or "{}")
            return value

        def browse_ids() -> list[str]:
            page.click("nav >> text=Browse")
            expected = api.get(
                "/collections/trips/records", params={"filter": json.dumps(built())}
            ).json()["records"]
            expect(page.locator("#browse .card")).to_have_count(len(expected))
            ids: list[str] = page.locator("#browse .card").evaluate_all(
                "els => els.map(e => e.dataset.id)"
            )
            assert sorted(ids) == sorted(r["id"] for r in expected)
            page.click("nav >> text=Search")
            return ids

        page.select_option('select[aria-label="trip"]', label="alps (3)")
        assert built() == {"trip": "alps"}
        assert len(browse_ids()) == 3

        page.fill("#f-from", "2021-06-02")
        page.dispatch_event("#f-from", "change")
        assert built()["exif.taken_at"] == {"$gte": "2021-06-02"}
        assert len(browse_ids()) == 2  # alps, from June 2nd

        page.select_option("#f-camera", index=2)
        assert "exif.model" in built()
        assert len(browse_ids()) <= 1

        page.click("text=Clear filters")
        assert page.input_value("#query-filter") == ""
        page.fill("#f-radius", "1.5")
        page.fill("#f-lat", "45")
        page.fill("#f-lon", "6")
        page.dispatch_event("#f-lon", "change")
        near = built()["exif.location"]["$near"]
        assert near["$maxDistance"] == 1500 and near["$geometry"]["coordinates"] == [6, 45]
        assert 0 < len(browse_ids()) < len(names)  # ~1 km apart: the first ones only

        # the JSON stays editable: typed by hand, it is what applies
        page.fill("#query-filter", '{"day": {"$gte": 5}}')
        page.press("#query-filter", "Enter")
        assert len(browse_ids()) == 2
    finally:
        api.delete("/collections/trips")


def test_duplicates_keep_another_and_delete_copies(page: Page, site: Site, shots: Path) -> None:
    page.set_viewport_size(DESKTOP)
    api = site.api
    api.post(
        "/collections", json={"name": "dups", "signals": ["duplicate"], "thumbnails": True}
    ).raise_for_status()
    try:
        names = ["astronaut.jpg", "astronaut-copy.jpg", "chelsea.jpg", "coffee.jpg"]
        items = [{"id": n, "base64": file_b64(site.photos / n)} for n in names]
        api.post("/collections/dups/records", json={"items": items}).raise_for_status()
        clusters = api.post("/collections/dups/duplicates", json={}).json()["clusters"]
        assert len(clusters) == 1
        members = {m["id"] for m in clusters[0]["members"]}
        kept = clusters[0]["keep"]
        other = next(iter(members - {kept}))

        page.goto(site.url + "/?view=duplicates&collection=dups")
        # the page has read the collection from the address (else the form asks for one)
        expect(page.locator("#duplicates-empty")).to_contain_text("Duplicates in “dups”")
        page.click("#duplicates-form button[type=submit]")
        row = page.locator(".cluster")
        expect(row).to_have_count(1)
        expect(row.locator(".card.keep .id")).to_have_text(kept)
        # why they were grouped: the copy search's matching points and region, on the copy
        why = api.post(
            "/collections/dups/search",
            json={"id": kept, "signal": "duplicate", "filter": {"id": {"$in": [other]}}},
        ).json()["results"][0]["match"]
        copy_card = row.locator(f'.card[data-id="{other}"]')
        expect(copy_card.locator(".why")).to_contain_text(f"{why['inliers']} matching points")
        if why.get("candidate_box"):
            expect(copy_card.locator(".box.region")).to_have_count(1)
        # choose the other image as the one to keep (keyboard: it is a button)
        row.locator(".member", has=page.locator(f'[data-id="{other}"]')).get_by_role(
            "button", name="Keep this one"
        ).focus()
        page.keyboard.press("Enter")
        expect(row.locator(".card.keep .id")).to_have_text(other)
        _shot(page, shots, "duplicates-keep-other")

        page.once("dialog", lambda d: d.dismiss())  # cancelled: nothing goes
        row.get_by_role("button", name="Delete copies…").click()
        assert api.get("/collections/dups/count").json()["count"] == len(names)

        asked: list[str] = []

        def accept(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.once("dialog", accept)
        row.get_by_role("button", name="Delete copies…").click()
        expect(row).to_contain_text("deleted")
        assert kept in asked[0] and other in asked[0]
        left = {r["id"] for r in api.get("/collections/dups/records").json()["records"]}
        assert other in left and kept not in left and len(left) == len(names) - len(members) + 1
        expect(page.locator("#collection-count")).to_have_text(f"{len(left)} images")
        _shot(page, shots, "duplicates-deleted")
    finally:
        api.delete("/collections/dups")


def test_not_a_copy_is_remembered(page: Page, site: Site) -> None:
    page.set_viewport_size(DESKTOP)
    api = site.api
    api.post("/collections", json={"name": "posters", "signals": ["duplicate"]}).raise_for_status()
    try:
        names = ["astronaut.jpg", "astronaut-copy.jpg", "coffee.jpg"]
        items = [{"id": n, "base64": file_b64(site.photos / n)} for n in names]
        api.post("/collections/posters/records", json={"items": items}).raise_for_status()
        cluster = api.post("/collections/posters/duplicates", json={}).json()["clusters"][0]
        copy = cluster["copies"][0]
        page.goto(site.url + "/?view=duplicates&collection=posters")
        # the page has read the collection from the address (else the form asks for one)
        expect(page.locator("#duplicates-empty")).to_contain_text("Duplicates in “posters”")
        page.click("#duplicates-form button[type=submit]")
        row = page.locator(".cluster")
        expect(row).to_have_count(1)
        row.locator(".member", has=page.locator(f'[data-id="{copy}"]')).get_by_role(
            "button", name="Not a copy"
        ).click()
        expect(row).to_contain_text("remembered")
        pairs = api.get("/collections/posters/duplicates/dismissed").json()["pairs"]
        assert pairs == [sorted([cluster["keep"], copy])]
        page.click("#duplicates-form button[type=submit]")  # grouped again: not shown
        expect(page.locator("#duplicates-empty")).to_contain_text("No duplicates")
        expect(page.locator(".cluster")).to_have_count(0)
    finally:
        api.delete("/collections/posters")
