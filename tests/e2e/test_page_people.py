"""The page's people view and the optional signals in its results, in a real browser against a
real server: faces grouped into people, named, and searched by person; text matches; unsafe
results veiled. As in test_page.py, what the page shows is compared with what the API answers.

Two collections, made with the engine before the server starts (as `lookalike index` would):
`people` (duplicate, faces) holds portraits of persons A and B, the astronaut, a group photo of
B beside the astronaut and a cat; `signs` (semantic, text, moderation, flagging unsafe images)
holds photos with words written on them. The server counts a female face as unsafe
(`unsafe_labels`), so the astronaut is flagged without any explicit image in the suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from lookalike import Engine, Settings
from tests.e2e.test_page import _shot, _wait_results
from tests.support.faces import face_folder
from tests.support.server import live_server
from tests.support.text_images import background, render

pytestmark = pytest.mark.slow  # dlib, OCR and NudeNet on a few photos, a server, a browser

FACES = ("person_a_1", "person_a_2", "person_b_1", "astronaut", "group", "chelsea")
SIGNS = {"chelsea": ("harbour", "bakery"), "coffee": ("sunset", "museum")}
SIGNS["astronaut"] = ("harbour", "lantern")  # the one flagged unsafe


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path
) -> Iterator[tuple[str, httpx.Client]]:
    folder = face_folder(tmp_path_factory.mktemp("people-photos"), FACES)
    signs = tmp_path_factory.mktemp("sign-photos")
    for i, (name, words) in enumerate(SIGNS.items()):
        shown = render(background(name, 900), words, font="roboto", size=0.07, seed=i)
        shown.image.save(signs / f"{name}.jpg", quality=92)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("people-server"),
        offline=True,
        default_model=str(tiny_model),
        decode_workers=1,
        unsafe_labels=("FACE_FEMALE",),
    )
    with Engine(settings) as engine:
        people = engine.create_collection("people", signals="duplicate,faces", thumbnails=True)
        report = people.index([folder])
        assert report.indexed == len(FACES) and not report.failed
        flagged = engine.create_collection(
            "signs", signals="semantic,text,moderation", on_unsafe="flag", thumbnails=True
        )
        report = flagged.index([signs])
        assert report.indexed == len(SIGNS) and [u.id for u in report.unsafe] == ["astronaut.jpg"]
    with live_server(settings) as url, httpx.Client(base_url=url, timeout=120) as api:
        yield url, api


def _open(page: Page, url: str, collection: str, view: str = "search") -> None:
    page.goto(f"{url}/#/{view}")
    expect(page.locator("#collection")).not_to_be_disabled()
    page.select_option("#collection", collection)
    expect(page.locator("#collection")).to_have_value(collection)


def _people(api: httpx.Client) -> list[dict[str, Any]]:
    r = api.get("/collections/people/people")
    r.raise_for_status()
    people: list[dict[str, Any]] = r.json()
    return people


def _card_ids(page: Page, selector: str) -> list[str]:
    ids: list[str] = page.locator(selector).evaluate_all("els => els.map(e => e.dataset.id)")
    return ids


def test_people_grouped_renamed_and_searched(
    page: Page, site: tuple[str, httpx.Client], shots: Path
) -> None:
    url, api = site
    _open(page, url, "people", "people")
    assert _people(api) == []  # nothing grouped before the button
    expect(page.locator("#people-empty")).to_contain_text("No people yet")
    expect(page.locator("#people .person")).to_have_count(0)
    _shot(page, shots, "people-not-grouped")

    page.click("#people-cluster")
    expect(page.locator("#people-report")).to_contain_text("faces grouped")
    people = _people(api)
    assert len(people) >= 2
    expect(page.locator("#people .person")).to_have_count(len(people))
    assert _card_ids(page, "#people .person") == [str(p["id"]) for p in people]
    names = page.locator("#people .person .name").all_inner_texts()
    assert names == [f"Person {p['id']}" for p in people]
    counts = page.locator("#people .person .counts .numbers").all_inner_texts()
    for shown, p in zip(counts, people, strict=True):
        assert shown.startswith(f"{p['records']} photo")
    faces = sum(p["faces"] for p in people)
    expect(page.locator("#people-summary")).to_have_text(f"{len(people)} people, {faces} faces")
    # each person is shown by their face: the sample photo cropped around it
    page.wait_for_function(
        "n => { const imgs = [...document.querySelectorAll('#people img.windowed')];"
        " return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0); }",
        arg=len(people),
    )
    _shot(page, shots, "people-grouped")

    # rename the first person in place
    first, second = people[0], people[1]
    card = page.locator(f"#people .person[data-id='{first['id']}']")
    card.locator("button.rename").click()
    card.locator(".rename-form input").fill("Ada")
    card.locator(".rename-form input").press("Enter")
    expect(card.locator(".name")).to_have_text("Ada")
    assert {p["id"]: p["name"] for p in _people(api)}[first["id"]] == "Ada"
    _shot(page, shots, "people-renamed")

    # a name already taken is refused by the server, and the field stays open to fix it
    other = page.locator(f"#people .person[data-id='{second['id']}']")
    other.locator("button.rename").click()
    other.locator(".rename-form input").fill("ada")
    other.locator(".rename-form input").press("Enter")
    refused = api.patch(f"/collections/people/people/{second['id']}", json={"name": "ada"})
    assert refused.status_code == 409
    expect(page.locator("#banner")).to_contain_text(refused.json()["error"]["message"])
    expect(other.locator(".rename-form input")).to_be_visible()
    _shot(page, shots, "people-rename-refused")
    other.locator(".rename-form input").press("Escape")
    expect(other.locator(".name")).to_have_text(f"Person {second['id']}")

    # a person's card opens every photo of them, the matched face outlined
    card.locator("button.card").click()
    expect(page.locator("#view-search")).to_be_visible()
    _wait_results(page, "photos of “Ada”")
    r = api.post("/collections/people/search", json={"person": first["id"], "top_k": 24})
    r.raise_for_status()
    expected = r.json()["results"]
    assert len(expected) == first["records"]
    assert _card_ids(page, "#results .card") == [x["id"] for x in expected]
    assert all(x["match"]["person"] == first["id"] for x in expected)
    assert all("safe" not in x for x in expected)  # no moderation signal here
    expect(page.locator("#results .card .who")).to_have_text(["Ada"] * len(expected))
    expect(page.locator("#results .card .box.face")).to_have_count(len(expected))
    _shot(page, shots, "person-photos")

    # two people ticked and merged become one, keeping the first one's id and name
    page.click("nav >> text=People")
    expect(page.locator("#people .person")).to_have_count(len(people))
    merge = page.locator("#people-merge")
    expect(merge).to_be_disabled()
    card.locator(".pick input").check()
    other.locator(".pick input").check()
    expect(merge).to_have_text("Merge 2 people")
    _shot(page, shots, "people-merge-selected")
    merge.click()
    expect(page.locator("#people-report")).to_contain_text("2 people merged into Ada")
    after = _people(api)
    assert len(after) == len(people) - 1
    ada = next(p for p in after if p["id"] == first["id"])
    assert ada["name"] == "Ada" and ada["faces"] == first["faces"] + second["faces"]
    expect(page.locator("#people .person")).to_have_count(len(after))
    assert _card_ids(page, "#people .person") == [str(p["id"]) for p in after]
    expect(card.locator(".numbers")).to_contain_text(f"{ada['records']} photo")
    _shot(page, shots, "people-merged")


def test_text_matches_and_unsafe_results(
    page: Page, site: tuple[str, httpx.Client], shots: Path
) -> None:
    url, api = site
    _open(page, url, "signs")
    picker = page.locator("#text-signal")
    expect(picker).to_be_visible()
    assert picker.locator("option").all_inner_texts() == [
        "meaning and written words",
        "meaning",
        "words in the image",
    ]
    picker.select_option("text")
    page.fill("#query-text", "harbour")
    page.press("#query-text", "Enter")
    _wait_results(page, "“harbour” in the images’ text")
    r = api.post("/collections/signs/search", json={"text": "harbour", "signal": "text"})
    r.raise_for_status()
    expected = r.json()["results"]
    assert _card_ids(page, "#results .card") == [x["id"] for x in expected]
    assert {x["id"] for x in expected} >= {"chelsea.jpg", "astronaut.jpg"}
    for i, x in enumerate(expected):
        result = page.locator("#results .card").nth(i)
        lines = [line["text"] for line in x["match"]["lines"]]
        expect(result.locator(".lines .line")).to_have_text(lines[:3])
        marks = [m.lower() for m in result.locator(".lines mark").all_inner_texts()]
        assert "harbour" in marks
        # the unsafe one is veiled; the others are not
        expect(result.locator(".veil")).to_have_count(0 if x.get("safe", True) else 1)
    assert [x["id"] for x in expected if x.get("safe") is False] == ["astronaut.jpg"]
    page.wait_for_function("() => [...document.querySelectorAll('#results .box.line')].length > 0")
    _shot(page, shots, "text-matches-unsafe-veiled")

    veiled = page.locator("#results .card", has=page.locator(".veil"))
    summary = page.locator("#query-summary").inner_text()
    veiled.click()
    expect(page.locator("#results .veil")).to_have_count(0)
    expect(page.locator("#query-summary")).to_have_text(summary)  # revealed, not searched
    _shot(page, shots, "text-matches-unsafe-revealed")

    # a collection without faces: the people view says how to get them
    page.click("nav >> text=People")
    expect(page.locator("#people-empty")).to_contain_text("faces")
    expect(page.locator("#people-tools")).to_be_hidden()
    _shot(page, shots, "people-no-faces")
