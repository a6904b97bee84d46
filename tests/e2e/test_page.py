"""The web page in a real browser (Debian's Chromium through Playwright) against a real server.

Every test compares what the page shows with what the REST API answers for the same query, so
the page is checked as a view of the API, not against numbers written here. Screenshots of each
state go to test-artifacts/screenshots/ (printed at the start of the run)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from lookalike.config import Settings
from tests.e2e.conftest import Site
from tests.support.encoded import file_b64
from tests.support.samples import PHOTO_NAMES
from tests.support.server import live_server

pytestmark = pytest.mark.slow  # a browser, a server and an ingest: ~45 s for the module


def _open(page: Page, url: str) -> None:
    page.goto(url + "/")
    expect(page.locator("#collection")).to_have_value("photos")


def _ids(page: Page) -> list[str]:
    ids: list[str] = page.locator("#results .card").evaluate_all(
        "els => els.map(e => e.dataset.id)"
    )
    return ids


def _badges(page: Page) -> list[str]:
    texts: list[str] = page.locator("#results .card .badge").all_inner_texts()
    return texts


def _api_search(site: Site, **query: Any) -> list[dict[str, Any]]:
    r = site.api.post("/collections/photos/search", json={"top_k": 24, **query})
    r.raise_for_status()
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def _wait_results(page: Page, label: str) -> None:
    expect(page.locator("#query-summary")).to_contain_text(f"for {label}")


def _expect_thumbnails_loaded(page: Page, count: int) -> None:
    """Every card shows its thumbnail (a decoded image), not the placeholder."""
    page.wait_for_function(
        "n => { const imgs = [...document.querySelectorAll('#results .card img')];"
        " return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0); }",
        arg=count,
    )


def _shot(page: Page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_search_by_upload(page: Page, site: Site, shots: Path) -> None:
    _open(page, site.url)
    expect(page.locator("#collection-count")).to_have_text(f"{len(PHOTO_NAMES) + 1} images")
    query = site.photos / "astronaut.jpg"
    page.set_input_files("#query-file", str(query))
    _wait_results(page, "“astronaut.jpg”")
    with query.open("rb") as fh:
        r = site.api.post(
            "/collections/photos/search/upload",
            files={"image": ("astronaut.jpg", fh, "image/jpeg")},
            data={"query": json.dumps({"top_k": 24})},
        )
    expected = r.json()["results"]
    assert _ids(page) == [x["id"] for x in expected]
    assert _badges(page) == [f"{x['score']:.2f}" for x in expected]
    assert _ids(page)[0] == "astronaut.jpg" and _badges(page)[0] == "1.00"  # itself, score 1
    expect(page.locator("#query-preview")).to_be_visible()
    _expect_thumbnails_loaded(page, len(expected))
    _shot(page, shots, "search-by-upload")


def test_search_by_text_then_filter(page: Page, site: Site, shots: Path) -> None:
    _open(page, site.url)
    page.fill("#query-text", "a cat on a sofa")
    page.press("#query-text", "Enter")
    _wait_results(page, "“a cat on a sofa”")
    expected = _api_search(site, text="a cat on a sofa")
    assert _ids(page) == [x["id"] for x in expected]
    assert _badges(page) == [f"{x['score']:.2f}" for x in expected]

    page.fill("#query-filter", '{"subject": "living"}')
    page.press("#query-filter", "Enter")
    filtered = _api_search(site, text="a cat on a sofa", filter={"subject": "living"})
    assert 0 < len(filtered) < len(expected)
    expect(page.locator("#results .card")).to_have_count(len(filtered))
    assert _ids(page) == [x["id"] for x in filtered]
    shown = page.locator("#results .card dd").all_inner_texts()
    assert "living" in shown and "object" not in shown  # metadata shown on each card
    _expect_thumbnails_loaded(page, len(filtered))
    _shot(page, shots, "search-by-text-filtered")


def test_more_like_this(page: Page, site: Site, shots: Path) -> None:
    _open(page, site.url)
    page.fill("#query-text", "a rocket launch")
    page.press("#query-text", "Enter")
    _wait_results(page, "“a rocket launch”")
    picked = _ids(page)[1]
    page.locator("#results .card").nth(1).click()  # a tile opens the viewer
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator("#viewer-details")).to_contain_text(picked)
    viewer.get_by_role("button", name="More like this").click()
    expect(viewer).to_be_hidden()
    _wait_results(page, f"more like “{picked}”")
    expected = _api_search(site, id=picked)
    assert _ids(page) == [x["id"] for x in expected]
    assert picked not in _ids(page)
    # the query box shows the picked record's thumbnail
    page.wait_for_function(
        "() => { const i = document.getElementById('query-preview');"
        " return !i.hidden && i.complete && i.naturalWidth > 0; }"
    )
    _expect_thumbnails_loaded(page, len(expected))
    _shot(page, shots, "more-like-this")


def test_error_states(page: Page, site: Site, shots: Path) -> None:
    _open(page, site.url)
    banner = page.locator("#banner")

    page.fill("#query-filter", '{"kind": {"$near": 3}}')
    page.fill("#query-text", "a cat")
    page.press("#query-text", "Enter")
    r = site.api.post(
        "/collections/photos/search", json={"text": "a cat", "filter": {"kind": {"$near": 3}}}
    )
    assert r.status_code == 400
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(r.json()["error"]["message"])
    expect(page.locator("#results .card")).to_have_count(0)
    _shot(page, shots, "error-invalid-filter")

    page.fill("#query-filter", "{subject: living")
    page.press("#query-filter", "Enter")
    expect(banner).to_contain_text("not valid JSON")

    page.fill("#query-filter", "")
    page.fill("#query-url", "http://127.0.0.1:9/cat.jpg")
    page.press("#query-url", "Enter")
    r = site.api.post(
        "/collections/photos/search", json={"image_url": "http://127.0.0.1:9/cat.jpg"}
    )
    assert r.status_code == 400
    expect(banner).to_contain_text(r.json()["error"]["message"])
    page.click("#banner-close")
    expect(banner).to_be_hidden()


_DATA_TRANSFER = """async ([b64, name, kind, target]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, {type: "image/jpeg"}));
  if (kind === "paste") {
    document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true}));
  } else {
    const on = document.querySelector(target);
    on.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
  }
}"""


@pytest.mark.parametrize("kind", ["paste", "drop"])
def test_paste_or_drop_an_image_searches_by_it(page: Page, site: Site, kind: str) -> None:
    _open(page, site.url)
    page.evaluate(
        _DATA_TRANSFER, [file_b64(site.photos / "chelsea.jpg"), "clip.jpg", kind, "#dropzone"]
    )
    _wait_results(page, "“clip.jpg”")
    assert _ids(page)[0] == "chelsea.jpg" and _badges(page)[0] == "1.00"


def test_duplicates_view(page: Page, site: Site, shots: Path) -> None:
    _open(page, site.url)
    page.click("nav >> text=Duplicates")
    expect(page.locator("#view-duplicates")).to_be_visible()
    page.click("#duplicates-form button[type=submit]")
    clusters = site.api.post("/collections/photos/duplicates", json={"keep": "original"}).json()[
        "clusters"
    ]
    assert clusters  # astronaut-copy.jpg copies astronaut.jpg
    expect(page.locator(".cluster")).to_have_count(len(clusters))
    for i, cluster in enumerate(clusters):
        row = page.locator(".cluster").nth(i)
        ids = row.locator(".card .id").all_inner_texts()
        assert sorted(ids) == sorted(m["id"] for m in cluster["members"])
        assert row.locator(".card.keep .id").inner_text() == cluster["keep"]
    page.wait_for_function(
        "() => [...document.querySelectorAll('.cluster img')].some(i => i.naturalWidth > 0)"
    )
    _shot(page, shots, "duplicates")

    page.click("nav >> text=People")
    expect(page.locator("#view-people")).to_contain_text("faces")
    expect(page.locator("#view-duplicates")).to_be_hidden()


def test_new_collection_upload_with_progress(
    page: Page, server_settings: Settings, photo_files: Path, tmp_path: Path, shots: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a JPEG")
    uploads = [photo_files / f"{n}.jpg" for n in ("coffee", "rocket", "camera")] + [broken]
    with live_server(server_settings) as url:
        page.goto(url + "/")
        expect(page.locator("#empty")).to_contain_text("No collections yet")
        _shot(page, shots, "empty-no-collections")

        page.click("#new-collection")
        page.fill("#collection-name", "bad name!")
        page.click("#collection-form button[type=submit]")
        expect(page.locator("#collection-error")).to_be_visible()  # the server's refusal
        page.fill("#collection-name", "fresh")
        page.uncheck("#collection-thumbnails")
        page.click("#collection-form button[type=submit]")
        expect(page.locator("#collection")).to_have_value("fresh")
        expect(page.locator("#empty")).to_contain_text("has no images yet")
        _shot(page, shots, "empty-collection")

        page.evaluate(
            """() => { window.progressLabels = [];
            new MutationObserver(() => window.progressLabels.push(
              document.getElementById('upload-label').textContent))
              .observe(document.getElementById('upload-label'), {childList: true}); }"""
        )
        page.set_input_files("#upload-files", [str(p) for p in uploads])
        report = page.locator("#upload-report")
        expect(report).to_contain_text("Upload finished")
        count = httpx.get(f"{url}/collections/fresh/count").json()["count"]
        assert count == len(uploads) - 1
        expect(report).to_contain_text(f"{count} indexed")
        expect(report.locator("li")).to_have_count(1)
        # named once, by the file the user picked
        expect(report.locator("li")).to_have_text(re.compile(rf"^{broken.name}: (?!upload:)\S"))
        labels = page.evaluate("window.progressLabels")
        assert any(label.startswith("Uploading") for label in labels)
        assert any(label.startswith("Indexing") for label in labels)
        expect(page.locator("#collection-count")).to_have_text(f"{count} images")
        _shot(page, shots, "upload-report")

        # a collection without thumbnails: neutral placeholders that name the record
        page.set_input_files("#query-file", str(uploads[0]))
        _wait_results(page, "“coffee.jpg”")
        expect(page.locator("#results .card")).to_have_count(count)
        expect(page.locator("#results .card img")).to_have_count(0)
        records = httpx.get(f"{url}/collections/fresh/records").json()["records"]
        named = {r["id"]: r["source"].rpartition(":")[2] for r in records}
        assert _ids(page)[0] in named and named[_ids(page)[0]] == "coffee.jpg"
        placeholders = page.locator("#results .card .placeholder").all_inner_texts()
        assert placeholders == _ids(page)
        sources = page.locator("#results .card .source").all_inner_texts()
        assert sorted(sources) == sorted(named.values())  # each card names its file
        _shot(page, shots, "results-without-thumbnails")

        # an image dropped on the upload button is added, not searched for
        dropped = photo_files / "chelsea.jpg"
        page.evaluate(_DATA_TRANSFER, [file_b64(dropped), dropped.name, "drop", "#upload-button"])
        expect(page.locator("#collection-count")).to_have_text(f"{count + 1} images")
        expect(report).to_contain_text("1 indexed")
        assert httpx.get(f"{url}/collections/fresh/count").json()["count"] == count + 1


def test_api_key_is_asked_for_and_kept(
    page: Page, server_settings: Settings, photo_files: Path, shots: Path
) -> None:
    with live_server(server_settings.replace(api_keys=("s3cret",))) as url:
        page.goto(url + "/")
        dialog = page.locator("#key-dialog")
        expect(dialog).to_be_visible()
        expect(page.locator("#key-reason")).to_contain_text("needs an API key")
        _shot(page, shots, "api-key-prompt")
        page.fill("#key-input", "wrong")
        page.click("#key-form button[type=submit]")
        expect(page.locator("#key-reason")).to_contain_text("refused")
        page.fill("#key-input", "s3cret")
        page.click("#key-form button[type=submit]")
        expect(dialog).to_be_hidden()
        expect(page.locator("#empty")).to_contain_text("No collections yet")
        assert page.evaluate("localStorage.getItem('lookalike.apiKey')") == "s3cret"

        # the key goes with every request, thumbnails included
        key = {"X-API-Key": "s3cret"}
        httpx.post(f"{url}/collections", json={"name": "keyed", "thumbnails": True}, headers=key)
        item = {"id": "cat", "base64": file_b64(photo_files / "chelsea.jpg")}
        httpx.post(
            f"{url}/collections/keyed/records", json={"items": [item]}, headers=key, timeout=60
        ).raise_for_status()
        page.reload()
        expect(page.locator("#collection")).to_have_value("keyed")
        expect(dialog).to_be_hidden()
        page.set_input_files("#query-file", str(photo_files / "chelsea.jpg"))
        _wait_results(page, "“chelsea.jpg”")
        assert _ids(page) == ["cat"]
        _expect_thumbnails_loaded(page, 1)
