"""Region queries on the page, in a real browser against a real server: a box drawn on the query
image searches that part only, and an object outlined in the viewer searches by itself. What the
page shows is compared with what the REST API answers for the same region."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from lookalike.config import Settings
from tests.e2e.conftest import Site
from tests.e2e.test_page import _ids, _open, _wait_results
from tests.support.detector import NUDENET
from tests.support.encoded import file_b64
from tests.support.faces import FACES
from tests.support.samples import photo
from tests.support.server import live_server

pytestmark = pytest.mark.slow


def _shot(page: Page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def _drag(page: Page, selector: str, box: tuple[float, float, float, float]) -> None:
    """Drag across the element's picture from one corner of ``box`` (fractions) to the other."""
    rect = page.locator(selector).evaluate(
        "img => { const r = img.getBoundingClientRect();"
        " const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);"
        " const w = img.naturalWidth * s, h = img.naturalHeight * s;"
        " return [r.left + (r.width - w) / 2, r.top + (r.height - h) / 2, w, h]; }"
    )
    left, top, width, height = rect
    page.mouse.move(left + box[0] * width, top + box[1] * height)
    page.mouse.down()
    for step in range(1, 6):
        t = step / 5
        x = box[0] + (box[2] - box[0]) * t
        y = box[1] + (box[3] - box[1]) * t
        page.mouse.move(left + x * width, top + y * height)
    page.mouse.up()


def test_a_box_drawn_on_the_query_image_searches_that_part(
    page: Page, site: Site, shots: Path, tmp_path: Path
) -> None:
    left = Image.open(site.photos / "motorcycle_left.jpg").convert("RGB")
    right = Image.open(site.photos / "coffee.jpg").convert("RGB").resize(left.size)
    canvas = Image.new("RGB", (left.width * 2, left.height))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    both = tmp_path / "both.png"
    canvas.save(both)
    _open(page, site.url)
    page.set_input_files("#query-file", str(both))
    _wait_results(page, "“both.png”")
    expect(page.locator("#query-preview")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#query-preview').naturalWidth > 0")

    _drag(page, "#query-preview", (0.52, 0.02, 0.98, 0.98))
    _wait_results(page, "a part of “both.png”")
    expect(page.locator("#region-box")).to_be_visible()
    shown = _ids(page)
    assert shown[0] == "coffee.jpg"
    with both.open("rb") as fh:  # the same part through the API, in fractions of the image
        body = site.api.post(
            "/collections/photos/search/upload",
            files={"image": ("both.png", fh, "image/png")},
            data={"query": json.dumps({"top_k": 24, "region": [0.52, 0.02, 0.98, 0.98]})},
        ).json()
    assert shown[:3] == [r["id"] for r in body["results"]][:3]
    _shot(page, shots, "region-drawn")

    _drag(page, "#query-preview", (0.02, 0.02, 0.48, 0.98))  # another part of the same image
    _wait_results(page, "a part of “both.png”")
    expect(page.locator("#results .card").first).to_have_attribute("data-id", "motorcycle_left.jpg")


@pytest.fixture(scope="module")
def scenes_site(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path
) -> Iterator[tuple[str, httpx.Client]]:
    """A server whose `scenes` collection has the objects signal (NudeNet's detector): two
    portraits planted in wide scenes, and a photo without any."""
    folder = tmp_path_factory.mktemp("scenes")
    portrait = Image.open(FACES / "person_b_1.jpg").convert("RGB").crop((150, 80, 440, 380))
    for name, spot in (("coffee", (800, 300)), ("rocket", (100, 150))):
        scene = photo(name).resize((1400, 900))
        scene.paste(portrait, spot)
        scene.save(folder / f"{name}-person.jpg", quality=90)
    photo("chelsea").resize((1400, 900)).save(folder / "chelsea.jpg", quality=90)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("scenes-server"),
        offline=True,
        default_model=str(tiny_model),
        object_detector=str(NUDENET),
        decode_workers=1,
    )
    with live_server(settings) as url, httpx.Client(base_url=url, timeout=120) as api:
        api.post(
            "/collections",
            json={"name": "scenes", "signals": ["semantic", "objects"], "thumbnails": True},
        ).raise_for_status()
        items = [{"id": f.name, "base64": file_b64(f)} for f in sorted(folder.glob("*.jpg"))]
        api.post("/collections/scenes/records", json={"items": items}).raise_for_status()
        yield url, api


def test_an_object_outlined_in_the_viewer_searches_by_itself(
    page: Page, scenes_site: tuple[str, httpx.Client], shots: Path
) -> None:
    url, api = scenes_site
    page.goto(url + "/?collection=scenes&view=browse")
    expect(page.locator("#collection")).to_have_value("scenes")
    page.locator('.card[data-id="coffee-person.jpg"]').click()
    expect(page.locator("#viewer")).to_be_visible()
    obj = page.locator("#viewer .box.object").first
    expect(obj).to_be_visible()
    label = obj.get_attribute("aria-label") or ""
    assert label.startswith("Search by this FACE")
    _shot(page, shots, "viewer-objects")
    obj.click()
    _wait_results(page, "a part of “coffee-person.jpg”")
    expect(page.locator("#region-box")).to_be_visible()
    shown = _ids(page)
    assert sorted(shown[:2]) == ["coffee-person.jpg", "rocket-person.jpg"]
    assert "chelsea.jpg" not in shown  # no objects: an object search never returns it
    box = api.get("/collections/scenes/records/coffee-person.jpg").json()["objects"][0]["box"]
    assert all(0 <= v <= 1 for v in box)
    _shot(page, shots, "object-search")


def test_a_box_on_a_records_picture_searches_that_part_of_it(page: Page, site: Site) -> None:
    _open(page, site.url)
    page.goto(site.url + "/?id=coffee.jpg&signal=semantic")
    _wait_results(page, "more like “coffee.jpg”")
    page.wait_for_function("() => document.querySelector('#query-preview').naturalWidth > 0")
    _drag(page, "#query-preview", (0.1, 0.1, 0.6, 0.6))
    _wait_results(page, "a part of “coffee.jpg”")
    expect(page.locator("#region-box")).to_be_visible()
    assert _ids(page)[0] == "coffee.jpg"  # the record itself holds that part best
