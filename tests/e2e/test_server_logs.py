"""The server's logs as an operator reads them: `lookalike serve` as a real process with
``LOOKALIKE_LOG_FORMAT=json``: one JSON object a line, the request id in the lines and in the
``X-Request-ID`` header, the settings at start with keys masked, ingest counts and failures."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from tests.support.server_process import server_process

pytestmark = pytest.mark.slow

KEY = "s3cret-key-never-logged"


def test_json_logs_with_request_ids_and_no_secret(
    env: dict[str, str], tmp_path: Path, photo_files: Path
) -> None:
    log_path = tmp_path / "server.log"
    server_env = {
        **env,
        "LOOKALIKE_LOG_FORMAT": "json",
        "LOOKALIKE_API_KEYS": KEY,
        "LOOKALIKE_DEFAULT_SIGNALS": "duplicate",
        "LOOKALIKE_DECODE_WORKERS": "1",
        "LOOKALIKE_SLOW_REQUEST_MS": "1",
    }
    headers = {"X-API-Key": KEY}
    with server_process(server_env, log_path) as server:
        url = server.url
        given = httpx.get(f"{url}/collections", headers={**headers, "X-Request-ID": "req-42"})
        assert given.headers["x-request-id"] == "req-42"
        made = httpx.get(f"{url}/collections", headers=headers)
        made_id = made.headers["x-request-id"]
        assert len(made_id) == 32
        hostile = httpx.get(f"{url}/collections", headers={**headers, "X-Request-ID": "a b\tc"})
        assert hostile.headers["x-request-id"] != "a b\tc"
        photo = next(photo_files.glob("*.jpg"))
        items = [
            {"id": "ok", "base64": base64.b64encode(photo.read_bytes()).decode()},
            {"id": "bad", "base64": base64.b64encode(b"not an image").decode()},
        ]
        httpx.post(f"{url}/collections", json={"name": "c"}, headers=headers)
        added = httpx.post(
            f"{url}/collections/c/records", json={"items": items}, headers=headers, timeout=120
        )
        assert added.status_code in (200, 207), added.text
    text = log_path.read_text()
    assert KEY not in text
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert len(records) >= 5, text
    start = next(r for r in records if r["message"].startswith("starting lookalike"))
    assert json.loads(start["settings"])["api_keys"] == ["***"]
    requests = [r for r in records if r["logger"] == "lookalike.requests"]
    assert any(r.get("request_id") == "req-42" and r["path"] == "/collections" for r in requests)
    assert any(r.get("request_id") == made_id for r in requests)
    # Slower than 1 ms is "slow": a warning; a fast machine answers some requests sooner (the
    # duration is logged rounded to 0.1 ms, so the ones at the bound decide nothing).
    assert all(r["level"] == "warning" for r in requests if r["ms"] >= 1.1)
    assert all(r["level"] == "info" for r in requests if r["ms"] < 0.95)
    assert any(r["level"] == "warning" and r["path"] == "/collections/c/records" for r in requests)
    ingest = [r for r in records if r["message"].startswith("ingest into c:")]
    assert any(r.get("indexed") == 1 and r.get("failed") == 1 for r in ingest), ingest
    failure = next(r for r in ingest if r["level"] == "warning")
    assert failure["code"] in ("bad_image", "bad_input") and failure["request_id"]
