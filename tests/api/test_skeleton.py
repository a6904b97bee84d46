"""The server's frame: health, JSON errors, API keys, the body limit."""

from __future__ import annotations

import pytest

from lookalike.api.serve import check_bind, is_loopback
from lookalike.config import Settings
from lookalike.errors import BadInput
from tests.support.server import ApiClient, in_process, probe_route


def test_health_and_json_404(api: ApiClient) -> None:
    assert api.get("/health").json()["status"] == "ok"
    r = api.get("/no/such/route")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_api_keys_required_and_checked(server_settings: Settings) -> None:
    keyed = server_settings.replace(api_keys=("k1", "secret-2"))
    with in_process(keyed, setup=probe_route) as api:
        assert api.get("/health").status_code == 200  # liveness stays open
        assert api.get("/openapi.json").status_code == 200
        r = api.get("/probe")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = api.get("/probe", headers={"X-API-Key": "wrong"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        for headers in (
            {"X-API-Key": "secret-2"},
            {"Authorization": "Bearer k1"},
            {"Authorization": "Token k1"},
        ):
            assert api.get("/probe", headers=headers).json() == {"ok": True}


def test_body_over_the_limit_is_refused_before_it_is_read(server_settings: Settings) -> None:
    with in_process(server_settings.replace(max_request_bytes=1000)) as api:
        r = api.post("/probe", content=b"x" * 5000)
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "too_large"


def test_bind_rules() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0")
    with pytest.raises(BadInput, match="without API keys"):
        check_bind(Settings(host="0.0.0.0"), allow_unauthenticated=False)
    assert check_bind(Settings(host="0.0.0.0"), allow_unauthenticated=True)
    assert "localhost only" in check_bind(Settings(), allow_unauthenticated=False)[0]
    notes = check_bind(Settings(host="0.0.0.0", api_keys=("k",)), allow_unauthenticated=False)
    assert any("allowed_hosts" in note for note in notes)
    named = Settings(host="0.0.0.0", api_keys=("k",), allowed_hosts=("search.example.com",))
    assert not any("allowed_hosts" in n for n in check_bind(named, allow_unauthenticated=False))
    assert not any(
        "allowed_hosts" in n for n in check_bind(Settings(), allow_unauthenticated=False)
    )
