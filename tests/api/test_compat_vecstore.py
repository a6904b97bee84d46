"""The Vecstore-style routes, called the way that service's tutorial calls them (base URL
ending in /api, X-API-Key, JSON bodies) against the server (in process)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookalike import Engine, Settings
from tests.support.encoded import b64, file_b64
from tests.support.image_server import serving
from tests.support.server import IN_PROCESS, ApiClient, in_process

KEY = "vecstore-test-key"
HEADERS = {"X-API-Key": KEY}
METADATA = {
    "astronaut": {"category": "person", "price": 10},
    "chelsea": {"category": "animal", "price": 20},
    "coffee": {"category": "food", "price": 30},
    "rocket": {"category": "object", "price": 40},
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[ApiClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("vecstore") / "data",
        offline=True,
        default_model=str(tiny_model),
        default_signals=("semantic", "duplicate"),
        decode_workers=1,
        api_keys=(KEY,),
        allow_private_urls=True,  # the image server of these tests is on loopback
    )
    with Engine(settings) as engine:
        engine.create_collection("copies-only", signals="duplicate")
    with in_process(settings) as client:
        yield client


BASE = f"{IN_PROCESS}/api"
"""The routes' base URL, as the service's tutorial writes it."""


def post(
    api: ApiClient, url: str, body: dict[str, Any], headers: dict[str, str] = HEADERS
) -> httpx.Response:
    return api.post(url, json=body, headers=headers)


@pytest.fixture(scope="module")
def database(api: ApiClient, photo_files: Path) -> str:
    db = f"db-{uuid.uuid4().hex[:8]}"  # created by its first insert
    for name, metadata in METADATA.items():
        r = post(
            api,
            f"{BASE}/databases/{db}/documents",
            {"image": file_b64(photo_files / f"{name}.jpg"), "metadata": metadata},
        )
        assert r.status_code == 200, r.text
    return db


def test_insert_answers_the_vector_id_and_search_finds_it(
    api: ApiClient, photo_files: Path
) -> None:
    db = f"db-{uuid.uuid4().hex[:8]}"
    image = file_b64(photo_files / "coffee.jpg")
    first = post(api, f"{BASE}/databases/{db}/documents", {"image": image, "metadata": {"n": 1}})
    assert first.status_code == 200
    vector_id = first.json()["vector_id"]
    assert first.json()["time"].endswith("ms")
    again = post(api, f"{BASE}/databases/{db}/documents", {"image": image, "metadata": {"n": 2}})
    assert again.json()["vector_id"] == vector_id  # the same image is the same document

    found = post(api, f"{BASE}/databases/{db}/search", {"image": image, "top_k": 5}).json()
    assert found["results"] == [{"vector_id": vector_id, "score": 1.0, "metadata": {"n": 2}}]


def test_search_by_image_text_and_metadata(
    api: ApiClient, database: str, photo_files: Path
) -> None:
    url = f"{BASE}/databases/{database}/search"
    by_image = post(api, url, {"image": file_b64(photo_files / "chelsea.jpg"), "top_k": 2}).json()
    top = by_image["results"][0]
    assert top["score"] > 0.99 and top["metadata"] == METADATA["chelsea"]
    assert len(by_image["results"]) == 2

    for field in ("query", "content"):  # the tutorial's name and the reference's
        results = post(api, url, {field: "a cat on a sofa", "top_k": 3}).json()["results"]
        assert len(results) == 3
        scores = [r["score"] for r in results]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)

    chosen = {"category": {"$in": ["animal", "food"]}}
    filtered = post(api, url, {"query": "anything", "top_k": 10, "metadata": chosen}).json()
    assert {r["metadata"]["category"] for r in filtered["results"]} == {"animal", "food"}
    only = post(api, url, {"metadata": {"category": "object"}}).json()["results"]
    assert [(r["metadata"], r["score"]) for r in only] == [(METADATA["rocket"], 0.0)]
    pages = [
        post(api, url, {"query": "x", "top_k": 4, "page": p, "per_page": 3}).json()["results"]
        for p in (1, 2)
    ]
    assert [len(p) for p in pages] == [3, 1]
    ranked = post(api, url, {"query": "x", "top_k": 4}).json()["results"]
    assert pages[0] + pages[1] == ranked


def test_insert_by_url(api: ApiClient, photo_files: Path) -> None:
    db = f"db-{uuid.uuid4().hex[:8]}"
    with serving(photo_files) as images:
        rocket = f"{images}/rocket.jpg"
        r = post(api, f"{BASE}/databases/{db}/documents", {"image_url": rocket, "metadata": {}})
        assert r.status_code == 200 and r.json()["vector_id"] == rocket
        found = post(api, f"{BASE}/databases/{db}/search", {"image_url": rocket, "top_k": 1})
    assert found.json()["results"][0]["vector_id"] == rocket


def test_keys_and_errors(api: ApiClient, database: str, photo_files: Path) -> None:
    search = f"{BASE}/databases/{database}/search"
    assert post(api, search, {"query": "x"}, headers={}).status_code == 401
    assert post(api, search, {"query": "x"}, headers={"X-API-Key": "wrong"}).status_code == 403

    unknown = post(api, f"{BASE}/databases/no-such-db/search", {"query": "x"})
    assert unknown.status_code == 404 and "no-such-db" in unknown.json()["error"]["message"]
    documents = f"{BASE}/databases/{database}/documents"
    not_image = b64(b"not an image at all")
    bad = post(api, documents, {"image": not_image})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_image"
    text = post(api, documents, {"content": "a text document"})
    assert text.status_code == 400 and "content" in text.json()["error"]["message"]
    nothing = post(api, documents, {"metadata": {"a": 1}})
    assert nothing.status_code == 400 and "image_url" in nothing.json()["error"]["message"]
    local = post(api, documents, {"image_url": str(photo_files / "rocket.jpg")})
    assert local.status_code == 400 and "http" in local.json()["error"]["message"]


def test_an_existing_database_keeps_its_signals(api: ApiClient, photo_files: Path) -> None:
    documents = f"{BASE}/databases/copies-only/documents"
    assert post(api, documents, {"image": file_b64(photo_files / "rocket.jpg")}).status_code == 200
    text = post(api, f"{BASE}/databases/copies-only/search", {"query": "a rocket"})
    assert text.status_code == 400 and "semantic" in text.json()["error"]["message"]
    image = post(
        api, f"{BASE}/databases/copies-only/search", {"image": file_b64(photo_files / "rocket.jpg")}
    )
    assert image.status_code == 200 and image.json()["results"][0]["score"] > 0.9
