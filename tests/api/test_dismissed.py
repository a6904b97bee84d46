"""Pairs marked as not duplicates are remembered and left out of later groupings."""

from __future__ import annotations

from pathlib import Path

from tests.support.encoded import file_b64
from tests.support.server import ApiClient

COPY = Path(__file__).resolve().parents[2] / "examples" / "photos" / "astronaut-copy.jpg"


def test_a_pair_marked_not_duplicates_is_not_grouped_again(
    api: ApiClient, photo_files: Path
) -> None:
    api.post("/collections", json={"name": "d", "signals": ["duplicate"]}).raise_for_status()
    items = [{"id": "copy.jpg", "base64": file_b64(COPY)}] + [
        {"id": f"{n}.jpg", "base64": file_b64(photo_files / f"{n}.jpg")}
        for n in ("astronaut", "chelsea", "coffee")
    ]
    api.post("/collections/d/records", json={"items": items}).raise_for_status()
    before = api.post("/collections/d/duplicates", json={}).json()["clusters"]
    assert [sorted(m["id"] for m in c["members"]) for c in before] == [
        ["astronaut.jpg", "copy.jpg"]
    ]
    assert api.get("/collections/d/duplicates/dismissed").json() == {"pairs": []}

    r = api.post("/collections/d/duplicates/dismissed", json={"ids": ["copy.jpg", "astronaut.jpg"]})
    assert r.status_code == 200 and r.json() == {"pairs": [["astronaut.jpg", "copy.jpg"]]}
    assert api.post("/collections/d/duplicates", json={}).json()["clusters"] == []
    listed = api.get("/collections/d/duplicates/dismissed").json()["pairs"]
    assert listed == [["astronaut.jpg", "copy.jpg"]]
    same = api.post("/collections/d/duplicates/dismissed", json={"ids": ["a", "a"]})
    assert same.status_code == 400
    one = api.post("/collections/d/duplicates/dismissed", json={"ids": ["a"]})
    assert one.status_code == 422
