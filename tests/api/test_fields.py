"""GET /collections/{name}/fields: the values the page's filter controls offer, and filters
built from them select what they say."""

from __future__ import annotations

import base64

from tests.support.exif_photos import exif_jpeg
from tests.support.samples import PHOTO_NAMES
from tests.support.server import ApiClient


def test_fields_of_a_collection(api: ApiClient) -> None:
    r = api.post("/collections", json={"name": "trips", "signals": ["duplicate", "exif"]})
    assert r.status_code == 201
    names = list(PHOTO_NAMES)[:4]
    items = [
        {
            "id": name,
            "base64": base64.b64encode(exif_jpeg(name, i)).decode(),
            "metadata": {"trip": "alps" if i < 2 else "sea", "day": i + 1},
        }
        for i, name in enumerate(names)
    ]
    api.post("/collections/trips/records", json={"items": items}).raise_for_status()
    body = api.get("/collections/trips/fields").json()
    assert body["records"] == len(names)
    trip = body["metadata"]["trip"]
    assert trip["values"] == [{"value": "alps", "count": 2}, {"value": "sea", "count": 2}]
    day = body["metadata"]["day"]
    assert day["kind"] == "number" and (day["min"], day["max"]) == (1, len(names))
    assert body["taken"]["first"].startswith("2021-06-01") and body["located"] == len(names)
    assert {(c["make"], c["model"]) for c in body["cameras"]} == {
        ("Canon" if i % 2 else "FUJIFILM", f"M{i}") for i in range(len(names))
    }
    # every listed value selects as many records as it says
    for v in trip["values"]:
        count = api.get(
            "/collections/trips/count", params={"filter": f'{{"trip": "{v["value"]}"}}'}
        )
        assert count.json()["count"] == v["count"]
    assert api.get("/collections/nope/fields").status_code == 404
