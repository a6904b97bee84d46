"""The REST API's collection and record routes on each store backend, in process: the same
requests answer the same way whether collections live in Edge or in a Qdrant store
(qdrant-client's local mode standing in for a server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lookalike import Settings
from lookalike.api.app import create_app
from tests.support.encoded import b64, image_bytes
from tests.support.samples import PHOTO_NAMES


@pytest.fixture(params=["edge", "qdrant-local"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    store = "edge" if request.param == "edge" else f"qdrant-local:{tmp_path / 'q'}"
    settings = Settings(data_dir=tmp_path / "data", offline=True, store=store)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as c:
        yield c


def test_collection_and_record_routes(client: TestClient) -> None:
    r = client.post("/collections", json={"name": "shop", "signals": "duplicate"})
    assert r.status_code == 201, r.text
    assert r.json()["count"] == 0 and r.json()["schema_version"] >= 2
    assert client.post("/collections", json={"name": "shop"}).status_code == 409
    items = [
        {"id": name, "base64": b64(image_bytes(name, side=160)), "metadata": {"n": n}}
        for n, name in enumerate(PHOTO_NAMES)
    ]
    r = client.post("/collections/shop/records", json={"items": items})
    assert r.status_code == 200, r.text
    assert r.json()["indexed"] == len(PHOTO_NAMES)
    assert client.get("/collections/shop").json()["count"] == len(PHOTO_NAMES)
    assert client.get("/collections/shop/count", params={"filter": '{"n": {"$lt": 3}}'}).json() == {
        "count": 3
    }
    seen: list[str] = []
    offset = None
    while True:
        params = {"limit": 4, **({"offset": offset} if offset else {})}
        page = client.get("/collections/shop/records", params=params).json()
        seen += [rec["id"] for rec in page["records"]]
        offset = page["next_offset"]
        if offset is None:
            break
    assert sorted(seen) == sorted(PHOTO_NAMES)
    bad = client.get("/collections/shop/records", params={"offset": "nope"})
    assert bad.status_code == 400
    top = client.post("/collections/shop/search", json={"id": "coffee", "top_k": 3}).json()
    assert len(top["results"]) == 3 and "coffee" not in [x["id"] for x in top["results"]]
    r = client.post("/collections/shop/records/delete", json={"ids": ["coffee", "never"]})
    assert r.json() == {"deleted": {"coffee": True, "never": False}}
    assert client.get("/collections/shop/records/coffee").status_code == 404
    assert client.delete("/collections/shop").json() == {"deleted": "shop"}
    assert client.get("/collections").json()["collections"] == []
