"""GET /catalog: what the New collection dialog offers, as the server knows it."""

from __future__ import annotations

from lookalike.config import Settings
from lookalike.models.specs import MODELS
from lookalike.signals import KNOWN, parse_signals
from tests.support.server import ApiClient


def test_catalog_lists_signals_models_and_defaults(
    api: ApiClient, server_settings: Settings
) -> None:
    body = api.get("/catalog").json()
    assert body["signals"] == list(KNOWN)
    assert parse_signals(body["signals"])  # every listed signal is one a collection accepts
    assert body["default_signals"] == list(server_settings.default_signals)
    assert body["default_model"] == server_settings.default_model
    names = [m["name"] for m in body["models"]]
    assert names == list(MODELS) and all(m["dim"] > 0 for m in body["models"])
    # a collection made from the catalog's choices is accepted
    r = api.post(
        "/collections",
        json={"name": "from-catalog", "signals": ["duplicate"], "thumbnails": True},
    )
    assert r.status_code == 201 and r.json()["signals"] == ["duplicate"]
