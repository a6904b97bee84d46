"""Collections over HTTP: create, list, show, drop, and their errors."""

from __future__ import annotations

from tests.support.server import ApiClient


def test_collection_lifecycle_and_errors(api: ApiClient) -> None:
    c = api
    r = c.post("/collections", json={"name": "shop", "thumbnails": True})
    assert r.status_code == 201, r.text
    info = r.json()
    assert info["name"] == "shop" and info["count"] == 0 and info["thumbnails"] is True
    assert info["signals"] == ["semantic", "duplicate"]
    assert info["model"] and info["dims"]["semantic"] > 0 and info["created_at"]

    r = c.post("/collections", json={"name": "hashes", "signals": "duplicate"})
    assert r.status_code == 201 and r.json()["model"] is None
    assert r.json()["thumbnails"] is True  # the thumbnails setting's default
    r = c.post("/collections", json={"name": "bare", "signals": "duplicate", "thumbnails": False})
    assert r.status_code == 201 and r.json()["thumbnails"] is False
    assert c.delete("/collections/bare").status_code == 200

    r = c.post("/collections", json={"name": "shop"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    r = c.post("/collections", json={"name": "bad/name"})
    assert r.status_code == 400 and "invalid collection name" in r.json()["error"]["message"]
    r = c.post("/collections", json={"name": "x", "signals": ["semantic", "colour"]})
    assert r.status_code == 400 and "colour" in r.json()["error"]["message"]
    r = c.post("/collections", json={"name": "x", "model": "/etc"})  # no server paths
    assert r.status_code == 400 and "unknown model" in r.json()["error"]["message"]
    r = c.post("/collections", json={"name": "x", "colour": "red"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"

    listed = c.get("/collections").json()["collections"]
    assert sorted(i["name"] for i in listed) == ["hashes", "shop"]
    assert c.get("/collections/hashes").json()["signals"] == ["duplicate"]

    r = c.delete("/collections/hashes")
    assert r.status_code == 200 and r.json() == {"deleted": "hashes"}
    for r in (
        c.get("/collections/hashes"),
        c.delete("/collections/hashes"),
        c.get("/collections/hashes/records"),
        c.post("/collections/hashes/records", json={"items": []}),
    ):
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    assert [i["name"] for i in c.get("/collections").json()["collections"]] == ["shop"]
