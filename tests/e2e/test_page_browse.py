"""The browse view's sort and its *Make thumbnails* button, in a real browser against a real
server, at 390x844 and 1440x900: the order shown is the REST API's for the sort in the address,
infinite scroll neither repeats nor skips, Back/Forward walk the sorts, and thumbnails turned on
for a collection made without them appear in the grid. axe-core finds no serious or critical
violation on the new controls; screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from lookalike.config import Settings
from tests.e2e.conftest import AXE
from tests.e2e.test_page_a11y import _violations
from tests.support.encoded import image_bytes
from tests.support.exif_photos import exif_jpeg
from tests.support.samples import PHOTO_NAMES
from tests.support.server import live_server

pytestmark = pytest.mark.slow  # a browser, a server and an ingest

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1440, "height": 900}}


class Served:
    def __init__(self, url: str, api: httpx.Client, root: Path) -> None:
        self.url, self.api, self.root = url, api, root

    def add(self, name: str, items: list[dict[str, Any]]) -> None:
        r = self.api.post(f"/collections/{name}/records", json={"items": items})
        r.raise_for_status()
        assert all(o["status"] == "indexed" for o in r.json()["outcomes"]), r.text

    def walk(self, name: str, sort: str) -> list[str]:
        ids: list[str] = []
        offset = None
        while True:
            params = {"limit": 2, "sort": sort, **({"offset": offset} if offset else {})}
            body = self.api.get(f"/collections/{name}/records", params=params).json()
            ids += [r["id"] for r in body["records"]]
            offset = body["next_offset"]
            if not offset:
                return ids


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server reading files under ``root``, with ``trips``: photos with capture times and
    without, indexed in three batches (newest last), no thumbnails."""
    root = tmp_path_factory.mktemp("browse-photos")
    for i, name in enumerate(PHOTO_NAMES[:5]):
        (root / f"trip-{i}.jpg").write_bytes(exif_jpeg(name, 4 - i))  # capture days 5..1
    (root / "scan.jpg").write_bytes(image_bytes(PHOTO_NAMES[5], side=320))
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("browse-server"),
        offline=True,
        default_signals=("duplicate", "exif"),
        allowed_roots=(str(root),),
        decode_workers=1,
    )
    with live_server(settings) as url, httpx.Client(base_url=url, timeout=120) as api:
        site = Served(url, api, root)
        made = api.post("/collections", json={"name": "trips", "thumbnails": False})
        made.raise_for_status()
        site.add("trips", [{"id": f"trip-{i}", "path": f"trip-{i}.jpg"} for i in range(3)])
        site.add("trips", [{"id": "scan", "path": "scan.jpg"}])
        site.add("trips", [{"id": f"trip-{i}", "path": f"trip-{i}.jpg"} for i in (3, 4)])
        yield site


@pytest.fixture(params=sorted(SIZES))
def sized(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[Page, str]]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/test-setup (it installs axe-core)")
    size = str(request.param)
    context = browser.new_context(
        viewport=SIZES[size], is_mobile=size == "phone", has_touch=size == "phone", bypass_csp=True
    )
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg, size
    context.close()
    assert not errors, f"the page raised: {errors}"


def _shown(page: Page) -> list[str]:
    ids: list[str] = page.locator("#browse .card").evaluate_all("els => els.map(e => e.dataset.id)")
    return ids


def _sort(page: Page) -> list[str]:
    return parse_qs(urlsplit(page.url).query).get("sort", [])


def _fits(page: Page, size: str) -> None:
    if size == "phone":
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= SIZES["phone"]["width"], f"the page is {width} px wide"


def _no_serious(page: Page) -> None:
    found = _violations(page)
    assert not found, found


def _scroll_all(page: Page, count: int) -> None:
    for _ in range(20):  # the end of the grid in view loads the next page
        if page.locator("#browse .card").count() >= count:
            break
        page.locator("#browse .card").last.scroll_into_view_if_needed()
        page.mouse.wheel(0, 3000)
        page.wait_for_timeout(200)
    expect(page.locator("#browse .card")).to_have_count(count)


def test_browse_sorts_by_time_and_the_sort_is_an_address(
    sized: tuple[Page, str], served: Served, shots: Path
) -> None:
    page, size = sized
    newest = served.walk("trips", "-indexed_at")
    taken = served.walk("trips", "taken_at")
    assert newest[0] in ("trip-3", "trip-4") and newest[-3:] != taken[-3:]
    assert taken[:5] == [f"trip-{i}" for i in (4, 3, 2, 1, 0)] and taken[-1] == "scan"
    # small pages: the grid follows the cursor several times, through runs of equal times
    page.route(
        re.compile(r"/collections/trips/records\?"),
        lambda route: route.continue_(url=route.request.url.replace("limit=48", "limit=2")),
    )
    page.goto(served.url + "/?view=browse&collection=trips")
    expect(page.locator("#browse-sort")).to_have_value("-indexed_at")
    _scroll_all(page, len(newest))
    assert _shown(page) == newest and _sort(page) == []
    _fits(page, size)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / f"browse-sort-{SIZES[size]['width']}.png"))
    _no_serious(page)

    page.select_option("#browse-sort", "taken_at")
    expect(page).to_have_url(re.compile(r"sort=taken_at"))
    _scroll_all(page, len(taken))
    assert _shown(page) == taken
    _fits(page, size)

    page.go_back()
    expect(page.locator("#browse-sort")).to_have_value("-indexed_at")
    _scroll_all(page, len(newest))
    assert _shown(page) == newest and _sort(page) == []
    page.go_forward()
    expect(page.locator("#browse-sort")).to_have_value("taken_at")
    _scroll_all(page, len(taken))
    assert _shown(page) == taken

    # a shared address opens on its sort; leaving and coming back keeps it
    page.goto(served.url + "/?view=browse&collection=trips&sort=-taken_at")
    expect(page.locator("#browse-sort")).to_have_value("-taken_at")
    _scroll_all(page, len(taken))
    assert _shown(page)[:5] == taken[:5][::-1] and _shown(page)[-1] == "scan"
    page.locator("nav.views a", has_text="Search").click()
    page.locator("nav.views a", has_text="Browse").click()
    expect(page).to_have_url(re.compile(r"sort=-taken_at"))


def test_make_thumbnails_turns_them_on_and_fills_the_grid(
    sized: tuple[Page, str], served: Served, shots: Path
) -> None:
    page, size = sized
    name = f"plain-{size}"
    served.api.post("/collections", json={"name": name, "thumbnails": False}).raise_for_status()
    data = base64.b64encode(image_bytes(PHOTO_NAMES[6], side=200)).decode()
    served.add(name, [{"id": f"t{i}", "path": f"trip-{i}.jpg"} for i in range(3)])
    served.add(name, [{"id": "upload", "base64": data}])
    try:
        page.goto(served.url + f"/?view=browse&collection={name}")
        expect(page.locator("#browse .card")).to_have_count(4)
        expect(page.locator("#browse .card img")).to_have_count(0)  # placeholders
        button = page.locator("#browse-thumbnails")
        expect(button).to_be_visible()
        _fits(page, size)
        _no_serious(page)
        page.screenshot(path=str(shots / f"browse-make-thumbnails-{SIZES[size]['width']}.png"))

        button.click()
        status = page.locator("#thumbnails-progress")
        expect(status).to_have_text("Thumbnails: 3 made, 1 without a source left.")
        expect(button).to_be_hidden()
        page.wait_for_function(
            "() => { const imgs = [...document.querySelectorAll('#browse .card img')];"
            " return imgs.length === 3 && imgs.every(i => i.complete && i.naturalWidth > 0); }"
        )
        with_img = page.locator("#browse .card:has(img)").evaluate_all(
            "els => els.map(e => e.dataset.id).sort()"
        )
        assert with_img == ["t0", "t1", "t2"]
        assert served.api.get(f"/collections/{name}").json()["thumbnails"] is True
        _fits(page, size)
        _no_serious(page)
        page.screenshot(path=str(shots / f"browse-thumbnails-made-{SIZES[size]['width']}.png"))
    finally:
        served.api.delete(f"/collections/{name}")
