"""Aliases and reindex over REST and through the SDK: every route that takes a collection name
takes an alias, refusals carry their codes, and a reindex runs as a job to its switch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from lookalike.client import Client
from lookalike.config import Settings
from lookalike.errors import NameTaken, NotFound
from tests.support.photo_collection import index_photos
from tests.support.server import IN_PROCESS, in_process


def _wait(client: httpx.Client, job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def test_aliases_over_rest_and_a_reindex_job(server_settings: Settings, photo_files: Path) -> None:
    vectors = index_photos(server_settings, photo_files, "photos")
    index_photos(server_settings, photo_files, "other", signals="duplicate")
    with in_process(server_settings) as client:
        assert client.put("/aliases/shop", json={"collection": "photos"}).json() == {
            "alias": "shop",
            "collection": "photos",
        }
        assert client.get("/aliases").json() == {"aliases": {"shop": "photos"}}
        info = client.get("/collections/shop").json()
        assert info["name"] == "photos" and info["aliases"] == ["shop"]
        listed = client.get("/collections").json()
        assert [c["name"] for c in listed["collections"]] == ["other", "photos"]
        assert listed["aliases"] == {"shop": "photos"}
        some = sorted(vectors)[0]
        through_alias = client.post("/collections/shop/search", json={"id": some, "top_k": 3})
        direct = client.post("/collections/photos/search", json={"id": some, "top_k": 3})
        assert through_alias.status_code == 200 and through_alias.json()["results"]
        assert [r["id"] for r in through_alias.json()["results"]] == [
            r["id"] for r in direct.json()["results"]
        ]
        assert client.get("/collections/shop/count").json() == {"count": len(vectors)}
        assert client.get(f"/collections/shop/records/{some}").json()["id"] == some

        # refusals
        taken = client.put("/aliases/other", json={"collection": "photos"})
        assert (taken.status_code, taken.json()["error"]["code"]) == (409, "name_taken")
        missing = client.put("/aliases/x", json={"collection": "nope"})
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
        chained = client.put("/aliases/x", json={"collection": "shop"})
        assert chained.status_code == 400
        clash = client.post("/collections", json={"name": "shop"})
        assert (clash.status_code, clash.json()["error"]["code"]) == (409, "name_taken")
        assert client.delete("/collections/shop").status_code == 409  # through an alias
        assert client.delete("/collections/photos").status_code == 409  # an alias names it

        # the switch, then removal
        assert client.put("/aliases/shop", json={"collection": "other"}).status_code == 200
        assert client.get("/collections/shop").json()["name"] == "other"
        assert client.delete("/aliases/shop").json() == {"deleted": "shop"}
        assert client.get("/collections/shop").status_code == 404
        assert client.delete("/aliases/shop").status_code == 404

        # a reindex job: signals changed, then the name switched
        r = client.post("/collections/photos/reindex", json={"signals": "semantic"})
        assert r.status_code == 202, r.text
        job = _wait(client, r.json()["id"])
        assert job["status"] == "done" and job["kind"] == "reindex", job
        result = job["result"]
        assert (result["previous"], result["current"]) == ("photos@v1", "photos@v2")
        assert result["indexed"] == len(vectors) and result["missing"] == []
        assert job["done"] == job["total"] == len(vectors)
        info = client.get("/collections/photos").json()
        assert info["name"] == "photos@v2" and info["signals"] == ["semantic"]
        assert client.get("/aliases").json() == {"aliases": {"photos": "photos@v2"}}
        bad = client.post("/collections/photos/reindex", json={"model": "/etc"})
        assert bad.status_code == 400  # a folder on the server's disk: the operator's choice
        gone = client.post("/collections/nope/reindex", json={})
        assert gone.status_code == 404

        # the SDK: the same through its methods
        with Client(IN_PROCESS, http=client.another()) as sdk:
            assert sdk.set_alias("pics", "other") == {"photos": "photos@v2", "pics": "other"}
            assert sdk.collection("pics").info()["name"] == "other"
            try:
                sdk.set_alias("other", "photos@v2")
            except NameTaken:
                pass
            else:
                raise AssertionError("an alias named like a collection was accepted")
            report = sdk.reindex("photos", signals="semantic,duplicate")
            assert (report.previous, report.current) == ("photos@v2", "photos@v3")
            assert report.indexed == len(vectors)
            assert sdk.aliases()["photos"] == "photos@v3"
            assert sdk.set_alias("pics", None) == {"photos": "photos@v3"}
            try:
                sdk.set_alias("pics", None)
            except NotFound:
                pass
            else:
                raise AssertionError("removing an alias that is not there was accepted")
