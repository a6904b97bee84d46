"""The evaluation route of a collection: by the groups its records carry, by queries naming
their right answers, and as the HTML report page."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike import Engine
from lookalike.config import Settings
from tests.support.eval_sets import transformed_set
from tests.support.server import in_process

pytestmark = pytest.mark.slow

NAMES = ("chelsea", "coffee", "rocket")


def test_eval_route(server_settings: Settings, tmp_path: Path) -> None:
    folder = transformed_set(tmp_path / "set", NAMES)
    with Engine(server_settings) as engine:
        coll = engine.create_collection("shop", signals="duplicate", thumbnails=True)
        assert coll.index([folder], group_by_folder=True).indexed == 12
    with in_process(server_settings) as api:
        r = api.post("/collections/shop/eval", json={"protocol": "first", "top_k": 3})
        assert r.status_code == 200, r.text
        data = r.json()
        assert (data["protocol"], data["groups"], data["queries"]) == ("first", 3, 3)
        (variant,) = data["variants"]
        assert variant["collection"] == "shop" and "queries" not in variant
        assert variant["summary"]["accuracy"] == {"top1": 1.0, "top3": 1.0}
        assert variant["threshold"]["threshold"] == 0.75

        # by hand: each copy's three other copies fill its first three hits, so the original
        # is among them and a record of another photo is not
        queries = [
            {"id": "coffee/1-small.jpg", "expected": ["coffee/0-original.jpg"]},
            {"id": "rocket/1-small.jpg", "expected": ["chelsea/0-original.jpg"]},
        ]
        r = api.post(
            "/collections/shop/eval", json={"queries": queries, "include_queries": True, "top_k": 3}
        )
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["protocol"] == "queries" and data["rank_by"] == "record"
        (variant,) = data["variants"]
        ranks = {q["query"]: q["rank"] for q in variant["queries"]}
        assert ranks["rocket/1-small.jpg"] is None
        assert ranks["coffee/1-small.jpg"] is not None
        assert variant["summary"]["mrr"] == pytest.approx(1 / ranks["coffee/1-small.jpg"] / 2)

        page = api.post("/collections/shop/eval", json={"queries": queries, "format": "html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "group None" not in page.text and "rocket/1-small.jpg" in page.text
        assert "data:image/jpeg;base64," in page.text  # the collection's own thumbnails

        assert api.post("/collections/nope/eval").status_code == 404
        r = api.post("/collections/shop/eval", json={"protocol": "random"})
        assert r.status_code == 422
