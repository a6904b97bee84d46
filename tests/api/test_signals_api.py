"""The faces, moderation and text signals over HTTP: people grouped, named, searched, merged and
split; images moderated with and without a collection; text search with its matched lines. The
server in process, real dlib, NudeNet and RapidOCR, the real store.

The server counts NudeNet's ``FACE_FEMALE`` class as unsafe (a setting a user may choose), so
that ordinary photos include one that moderation flags: the astronaut."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from lookalike.config import Settings
from tests.support.faces import face_folder
from tests.support.image_server import serving
from tests.support.server import in_process
from tests.support.text_images import background, render

FACE_PHOTOS = ("person_a_1", "person_a_2", "person_b_1", "astronaut", "group", "coffee")
"""A twice, B alone and beside the astronaut (C) in the group photo, and no one."""
PHOTOS = ("astronaut", "camera", "coffee", "rocket", "chelsea")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    names = tuple(dict.fromkeys(FACE_PHOTOS + PHOTOS))
    return face_folder(tmp_path_factory.mktemp("signal-photos"), names)


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("signals-server") / "data",
        offline=True,
        default_signals=("duplicate",),
        decode_workers=1,
        unsafe_labels=("FACE_FEMALE",),
        allow_private_urls=True,  # image URLs of a test server on localhost
    )
    with in_process(settings) as client:
        yield client


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def _collection(
    http: httpx.Client, name: str, folder: Path, names: Sequence[str], **create: Any
) -> dict[str, Any]:
    """A collection holding ``names`` (uploaded, ids ``<name>.jpg``); the ingest report."""
    _ok(http.post("/collections", json={"name": name, **create}), 201)
    files = [
        ("files", (f"{n}.jpg", (folder / f"{n}.jpg").read_bytes(), "image/jpeg")) for n in names
    ]
    ids = json.dumps([f"{n}.jpg" for n in names])
    report: dict[str, Any] = _ok(
        http.post(f"/collections/{name}/records/upload", files=files, data={"ids": ids})
    )
    assert report["indexed"] == len(names) and not report["failed"], report
    return report


def _ids(body: dict[str, Any]) -> list[str]:
    return [r["id"] for r in body["results"]]


# people -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_people_are_grouped_named_searched_merged_and_split(
    http: httpx.Client, folder: Path
) -> None:
    _collection(http, "people", folder, FACE_PHOTOS, signals=["duplicate", "faces"])
    base = "/collections/people"
    assert _ok(http.get(f"{base}/people")) == []

    report = _ok(http.post(f"{base}/people/cluster", json={}))
    assert (report["faces"], report["new_people"], report["people"]) == (6, 3, 3)
    people = _ok(http.get(f"{base}/people"))
    by_sample = {tuple(p["sample"]): p for p in people}
    a = by_sample[("person_a_1.jpg", "person_a_2.jpg")]["id"]
    b = by_sample[("group.jpg", "person_b_1.jpg")]["id"]
    c = by_sample[("astronaut.jpg", "group.jpg")]["id"]
    assert all(p["faces"] == p["records"] == 2 and p["name"] is None for p in people)

    named = _ok(http.patch(f"{base}/people/{a}", json={"name": "Ada"}))
    assert (named["id"], named["name"], named["faces"]) == (a, "Ada", 2)
    assert _error(http.patch(f"{base}/people/{b}", json={"name": "ada"}), 409)["code"] == "conflict"
    assert _error(http.patch(f"{base}/people/999", json={"name": "x"}), 404)["code"] == "not_found"
    assert (
        "nobody" in _error(http.patch(f"{base}/people/nobody", json={"name": "x"}), 404)["message"]
    )
    assert _ok(http.patch(f"{base}/people/Ada", json={"name": "Ada L."}))["id"] == a

    by_name = _ok(http.post(f"{base}/search", json={"person": "ada l."}))
    assert sorted(_ids(by_name)) == ["person_a_1.jpg", "person_a_2.jpg"]
    assert {(r["match"]["person"], r["match"]["name"]) for r in by_name["results"]} == {
        (a, "Ada L.")
    }
    assert sorted(_ids(_ok(http.post(f"{base}/search", json={"person": b})))) == [
        "group.jpg",
        "person_b_1.jpg",
    ]
    _error(http.post(f"{base}/search", json={"person": "nobody"}), 404)
    _error(http.post(f"{base}/search", json={"person": a, "text": "x"}), 400)

    # the query photo's faces: by index (upload) or by box (base64), the same face
    group = _ok(http.get(f"{base}/records/group.jpg"))["faces"]
    right = next(i for i, f in enumerate(group) if f["box"][0] > 0.5)  # person B
    left = 1 - right  # the astronaut
    image = (folder / "group.jpg").read_bytes()
    width, height = Image.open(folder / "group.jpg").size
    query = {"signal": "faces", "face": right, "top_k": 3}
    by_face = _ok(
        http.post(
            f"{base}/search/upload",
            files={"image": ("group.jpg", image, "image/jpeg")},
            data={"query": json.dumps(query)},
        )
    )
    assert _ids(by_face)[:2] == ["group.jpg", "person_b_1.jpg"]
    assert by_face["results"][1]["match"]["query_face"]["index"] == right
    box = [width * 0.7, 0, width, height / 2]
    by_box = _ok(
        http.post(
            f"{base}/search",
            json={
                "image_base64": base64.b64encode(image).decode(),
                "box": box,
                "top_k": 3,
                "signal": "faces",
            },
        )
    )
    assert _ids(by_box) == _ids(by_face)
    _error(http.post(f"{base}/search", json={"id": "group.jpg", "signal": "faces", "face": 5}), 400)

    merged = _ok(http.post(f"{base}/people/merge", json={"people": [b, c]}))
    assert (merged["id"], merged["faces"], merged["records"]) == (b, 4, 3)
    assert len(_ok(http.get(f"{base}/people"))) == 2
    _error(http.post(f"{base}/people/merge", json={"people": [b, "nobody"]}), 404)

    alone = _ok(http.post(f"{base}/people/{b}/split", json={"faces": ["astronaut.jpg"]}))
    assert alone["id"] not in (a, b) and alone["sample"] == ["astronaut.jpg"]
    astronaut = _ok(http.get(f"{base}/records/astronaut.jpg"))["faces"]
    assert astronaut[0]["person"] == alone["id"]
    one_face = _ok(http.post(f"{base}/people/{b}/split", json={"faces": [f"group.jpg#{left}"]}))
    faces = _ok(http.get(f"{base}/records/group.jpg"))["faces"]
    assert (faces[left]["person"], faces[right]["person"]) == (one_face["id"], b)
    _error(http.post(f"{base}/people/{b}/split", json={"faces": ["coffee.jpg"]}), 400)
    _error(http.post(f"{base}/people/{b}/split", json={"faces": []}), 422)
    assert sorted(p["faces"] for p in _ok(http.get(f"{base}/people"))) == [1, 1, 2, 2]

    regrouped = _ok(http.post(f"{base}/people/cluster", json={"full": True}))
    assert (regrouped["faces"], regrouped["people"]) == (6, 3)


def test_people_of_a_collection_without_faces(http: httpx.Client, folder: Path) -> None:
    _collection(http, "nofaces", folder, ("coffee",))
    assert "faces" in _error(http.get("/collections/nofaces/people"), 400)["message"]
    _error(http.get("/collections/nowhere/people"), 404)
    _error(http.post("/collections/nofaces/people/cluster", json={"full": 1}), 422)


# moderation ---------------------------------------------------------------------------------


def test_moderate_checks_one_image_sent_any_way(http: httpx.Client, folder: Path) -> None:
    camera = (folder / "camera.jpg").read_bytes()
    uploaded = _ok(http.post("/moderate", files={"image": ("camera.jpg", camera, "image/jpeg")}))
    assert uploaded["safe"] is True and uploaded["nsfw"] == 0.0
    assert uploaded["threshold"] == Settings.model_fields["nsfw_threshold"].default
    assert "FACE_MALE" in {d["label"] for d in uploaded["labels"]}
    as_base64 = _ok(
        http.post("/moderate", json={"image_base64": base64.b64encode(camera).decode()})
    )
    assert as_base64 == uploaded
    with serving(folder) as images:
        assert _ok(http.post("/moderate", json={"image_url": f"{images}/camera.jpg"})) == uploaded
    astronaut = (folder / "astronaut.jpg").read_bytes()
    unsafe = _ok(http.post("/moderate", files={"image": ("a.jpg", astronaut, "image/jpeg")}))
    assert unsafe["safe"] is False and unsafe["nsfw"] >= unsafe["threshold"]

    for not_a_url in ("/etc/passwd", "file:///etc/passwd", str(folder / "camera.jpg")):
        assert _error(http.post("/moderate", json={"image_url": not_a_url}), 422)["detail"]
    _error(http.post("/moderate", json={}), 422)
    _error(
        http.post("/moderate", json={"image_url": "https://x.org/a.jpg", "image_base64": "eA"}), 422
    )
    _error(http.post("/moderate", files={"other": ("a.jpg", camera, "image/jpeg")}), 422)
    _error(http.post("/moderate", content=camera, headers={"content-type": "image/jpeg"}), 415)
    bad = base64.b64encode(b"not an image").decode()
    assert _error(http.post("/moderate", json={"image_base64": bad}), 400)["code"] == "bad_image"


def test_a_collection_flags_unsafe_images_and_search_filters_them(
    http: httpx.Client, folder: Path
) -> None:
    _error(http.post("/collections", json={"name": "m0", "on_unsafe": "maybe"}), 422)
    refused = _error(http.post("/collections", json={"name": "m0", "on_unsafe": "flag"}), 400)
    assert "moderation" in refused["message"]
    report = _collection(
        http, "mod", folder, PHOTOS, signals="duplicate,moderation", on_unsafe="flag"
    )
    assert _ok(http.get("/collections/mod"))["on_unsafe"] == "flag"
    flagged = {u["id"] for u in report["unsafe"]}
    assert "astronaut.jpg" in flagged and {"coffee.jpg", "rocket.jpg"}.isdisjoint(flagged)

    for name in PHOTOS:  # checking an image answers what indexing it stored
        image = (folder / f"{name}.jpg").read_bytes()
        verdict = _ok(
            http.post("/collections/mod/moderate", files={"image": ("q.jpg", image, "image/jpeg")})
        )
        record = _ok(http.get(f"/collections/mod/records/{name}.jpg"))
        assert verdict["safe"] is record["safe"] is (f"{name}.jpg" not in flagged), name
        assert verdict["labels"] == record["moderation"]["labels"]

    def search(safe: bool) -> set[str]:
        query = {"id": "coffee.jpg", "filter": {"safe": safe}, "top_k": 10}
        return set(_ids(_ok(http.post("/collections/mod/search", json=query))))

    everything = {f"{n}.jpg" for n in PHOTOS} - {"coffee.jpg"}
    assert search(True) == everything - flagged
    assert search(False) == flagged
    count = http.get("/collections/mod/count", params={"filter": '{"safe": false}'})
    assert _ok(count)["count"] == len(flagged)


# text ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_text_search_answers_the_matched_lines(http: httpx.Client, tmp_path: Path) -> None:
    texts = {"harbour": ("harbour", "lantern"), "meadow": ("meadow", "violin")}
    for n, (name, words) in enumerate(texts.items()):
        rendered = render(background(("coffee", "rocket")[n], 800), words, font="roboto", size=0.08)
        rendered.image.save(tmp_path / f"{name}.jpg", quality=90)
    background("chelsea", 800).save(tmp_path / "plain.jpg", quality=90)  # no text in it
    _collection(http, "words", tmp_path, ("harbour", "meadow", "plain"), signals="duplicate,text")

    for name, words in texts.items():
        found = _ok(
            http.post("/collections/words/search", json={"text": words[1], "signal": "text"})
        )
        assert _ids(found)[0] == f"{name}.jpg"
        top = found["results"][0]
        lines = top["match"]["lines"]
        assert any(words[1] in line["text"].lower() for line in lines), lines
        assert top["scores"]["text"] == top["score"]
    _error(http.post("/collections/words/search", json={"text": "x", "signal": "faces"}), 400)
