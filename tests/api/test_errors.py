"""Every error a client can cause is JSON ``{"error": {...}}`` with its status, never a 500."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookalike.config import Settings
from tests.support.clip_onnx import build_tiny_clip
from tests.support.photo_collection import index_photos, record_id
from tests.support.server import ApiClient, in_process


@pytest.fixture(scope="module")
def keyed(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, photo_files: Path
) -> Iterator[tuple[ApiClient, Path]]:
    """A server that needs an API key, over the sample photos."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("errors") / "data",
        offline=True,
        default_model=str(tiny_model),
        decode_workers=1,
        api_keys=("key-1", "key-2"),
        max_image_bytes=1_000_000,
    )
    index_photos(settings, photo_files)
    with in_process(settings) as api:
        yield api, photo_files


KEY = {"X-API-Key": "key-2"}


def _error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == code and error["message"], error
    assert "Traceback" not in r.text
    return error


def _post(api: ApiClient, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**KEY, **kwargs.pop("headers", {})}
    return api.post(path, headers=headers, **kwargs)


def test_keys_on_401_403_then_served(keyed: tuple[ApiClient, Path]) -> None:
    api, _ = keyed
    path = "/collections/photos/search"
    _error(api.post(path, json={"text": "x"}), 401, "unauthorized")
    _error(api.post(path, json={"text": "x"}, headers={"X-API-Key": "nope"}), 403, "forbidden")
    _error(api.get("/metrics"), 401, "unauthorized")
    _error(api.post("/collections/photos/duplicates"), 401, "unauthorized")
    for headers in (KEY, {"Authorization": "Bearer key-1"}, {"Authorization": "Token key-2"}):
        r = api.post(path, json={"text": "x", "top_k": 2}, headers=headers)
        assert r.status_code == 200 and len(r.json()["results"]) == 2
    assert api.get("/health").json()["status"] == "ok"  # the probe stays open
    assert api.get("/metrics", headers=KEY).status_code == 200


def test_keys_off_serves_without_one(api: ApiClient) -> None:
    r = api.post("/collections/none/search", json={"text": "x"})
    _error(r, 404, "not_found")  # reached the route: no key was asked for
    assert api.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"image_base64": "###"}, "bad_input", "base64"),
        ({"image_base64": base64.b64encode(b"hello world").decode()}, "bad_image", "not an image"),
        ({"text": "x", "id": "y"}, "invalid_query", "not text and id"),
        ({}, "invalid_query", "give an image"),
        ({"text": "x", "filter": {"n": {"$regex": "a"}}}, "invalid_filter", "$regex"),
        ({"text": "x", "signal": "smell"}, "bad_input", "smell"),
        ({"text": "x", "signal": "duplicate"}, "invalid_query", "semantic"),
        ({"image_url": "http://10.0.0.1/a.jpg"}, "forbidden_address", "10.0.0.1"),
        ({"image_url": f"https://{'0' * 64}.example/a.jpg"}, "fetch_failed", "cannot resolve"),
    ],
)
def test_bad_input_is_400(
    keyed: tuple[ApiClient, Path], body: dict[str, Any], code: str, words: str
) -> None:
    error = _error(_post(keyed[0], "/collections/photos/search", json=body), 400, code)
    assert words in error["message"]


def test_unknown_collection_or_record_is_404(keyed: tuple[ApiClient, Path]) -> None:
    api, _ = keyed
    error = _error(_post(api, "/collections/nope/search", json={"text": "x"}), 404, "not_found")
    assert "nope" in error["message"]
    error = _error(_post(api, "/collections/nope/duplicates", json={}), 404, "not_found")
    error = _error(_post(api, "/collections/photos/search", json={"id": "a/b"}), 404, "not_found")
    assert "'a/b'" in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"text": "x", "top_k": 0},
        {"text": "x", "top_k": 1001},
        {"text": "x", "threshold": 1.5},
        {"text": "x", "topk": 3},
        {"text": ["x"]},
        {"text": "x", "region": [1, 2, 3]},
        {"text": "x", "filter": "not an object"},
        {"image_url": "/etc/passwd"},
        {"text": "   "},
        {"text": "x", "top_k": "10"},
        {"text": "x", "top_k": 10.5},
        {"text": "x", "group": 0},
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    keyed: tuple[ApiClient, Path], body: dict[str, Any]
) -> None:
    error = _error(
        _post(keyed[0], "/collections/photos/search", json=body), 422, "validation_error"
    )
    assert error["message"].startswith("body.") and error["detail"][0]["loc"][0] == "body"


def test_malformed_json_and_form_fields_are_422(keyed: tuple[ApiClient, Path]) -> None:
    api, folder = keyed
    r = _post(
        api,
        "/collections/photos/search",
        content=b'{"text": ',
        headers={"content-type": "application/json"},
    )
    _error(r, 422, "validation_error")
    jpeg = (folder / "coffee.jpg").read_bytes()
    upload = "/collections/photos/search/upload"
    for query in ("{not json", '{"top_k": -1}', '{"text": "x"}', "[1]"):
        r = _post(api, upload, files={"image": ("q.jpg", jpeg)}, data={"query": query})
        assert _error(r, 422, "validation_error")["message"].startswith("body.query"), query
    r = _post(api, upload, files={"query": (None, "{}")})  # multipart without an image
    assert _error(r, 422, "validation_error")["message"].startswith("body.image")
    r = _post(api, "/collections/photos/duplicates", json={"keep": "largest", "treshold": 0.5})
    _error(r, 422, "validation_error")


def test_unsupported_types_are_415(keyed: tuple[ApiClient, Path]) -> None:
    api, _ = keyed
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    r = _post(api, "/collections/photos/search/upload", files={"image": ("q.svg", svg)})
    assert "SVG" in _error(r, 415, "unsupported_format")["message"]
    body = {"image_base64": base64.b64encode(svg).decode()}
    _error(_post(api, "/collections/photos/search", json=body), 415, "unsupported_format")
    r = _post(
        api,
        "/collections/photos/search",
        content=b'{"text": "x"}',
        headers={"content-type": "text/plain"},
    )
    assert "application/json" in _error(r, 415, "unsupported_media_type")["message"]
    r = _post(api, "/collections/photos/search/upload", data={"query": "{}"})
    assert "multipart" in _error(r, 415, "unsupported_media_type")["message"]


def test_a_50_mb_upload_is_refused_cleanly(keyed: tuple[ApiClient, Path]) -> None:
    api, folder = keyed
    huge = b"\xff\xd8\xff" + bytes(50 * 1024 * 1024)
    r = _post(api, "/collections/photos/search/upload", files={"image": ("big.jpg", huge)})
    error = _error(r, 413, "too_large")
    assert "max_request_bytes" in error["message"]
    # under the request cap but over max_image_bytes (1 MB here): refused by the image limit
    big = b"\xff\xd8\xff" + bytes(2 * 1024 * 1024)
    r = _post(api, "/collections/photos/search/upload", files={"image": ("big.jpg", big)})
    assert "max_image_bytes" in _error(r, 413, "too_large")["message"]
    body = {"image_base64": base64.b64encode(big).decode()}
    _error(_post(api, "/collections/photos/search", json=body), 413, "too_large")
    # and the server goes on serving
    jpeg = (folder / "rocket.jpg").read_bytes()
    r = _post(api, "/collections/photos/search/upload", files={"image": ("q.jpg", jpeg)})
    assert r.status_code == 200 and r.json()["results"][0]["id"] == record_id("rocket")


def _model_copy(tiny_model: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    return folder


def test_changed_model_files_are_409(
    server_settings: Settings, tiny_model: Path, photo_files: Path, tmp_path: Path
) -> None:
    model = _model_copy(tiny_model, tmp_path)
    index_photos(server_settings, photo_files, model=str(model))
    other = build_tiny_clip(tmp_path / "other", seed=7)
    shutil.copy(other / "vision" / "model.onnx", model / "vision" / "model.onnx")
    with in_process(server_settings) as api:
        for body in ({"text": "x"}, {"text": "x"}, {"id": record_id("rocket")}):  # every time
            r = api.post("/collections/photos/search", json=body)
            assert "indexed with" in _error(r, 409, "model_mismatch")["message"]


def test_missing_model_files_are_503_and_health_says_degraded(
    server_settings: Settings, tiny_model: Path, photo_files: Path, tmp_path: Path
) -> None:
    model = _model_copy(tiny_model, tmp_path)
    index_photos(server_settings, photo_files, model=str(model))
    shutil.rmtree(model)
    with in_process(server_settings) as api:
        health = api.get("/health").json()
        assert health["status"] == "degraded"
        assert health["collections"]["photos"]["model_status"] == "missing"
        assert str(model) in health["collections"]["photos"]["error"]
        r = api.post("/collections/photos/search", json={"text": "x"})
        assert str(model) in _error(r, 503, "model_unavailable")["message"]
        r = api.post("/collections/photos/search", json={"id": record_id("rocket")})
        _error(r, 503, "model_unavailable")
