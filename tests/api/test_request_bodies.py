"""What the server makes of a request's body before a route acts on it, and what it answers
when the body is not what the route reads."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookalike.config import Settings
from tests.support.server import ApiClient, in_process

LIMIT = 64 * 1024
"""The served ``max_request_bytes``: small, so a body over it is quick to send."""
XIMILAR = {"collection-id": "c"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[ApiClient]:
    """A server holding an empty collection ``c`` (semantic and duplicate)."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("bodies") / "data",
        offline=True,
        default_model=str(tiny_model),
        default_signals=("semantic", "duplicate"),
        decode_workers=1,
        max_request_bytes=LIMIT,
    )
    with in_process(settings) as client:
        assert client.post("/collections", json={"name": "c"}).status_code == 201
        yield client


def _error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == code, error
    return error


def _jobs(client: ApiClient) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = client.get("/jobs").json()["jobs"]
    return jobs


# -- strict fields -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/collections/c/records/x", {"merge": "yes"}, "merge"),
        ("PATCH", "/collections/c/records/x", {"merge": 0}, "merge"),
        ("POST", "/collections/c/records", {"items": [], "background": "true"}, "background"),
        ("POST", "/collections/c/records", {"items": [], "background": 0}, "background"),
        ("POST", "/collections", {"name": "z", "thumbnails": 0}, "thumbnails"),
        ("POST", "/collections", {"name": "z", "thumbnails": "true"}, "thumbnails"),
        ("POST", "/collections/c/reindex", {"drop_previous": 0}, "drop_previous"),
        ("POST", "/collections/c/records/delete", {"ids": [1]}, "ids"),
        ("PUT", "/aliases/a", {"collection": 1}, "collection"),
        ("POST", "/api/databases/c/search", {"top_k": "10"}, "top_k"),
    ],
)
def test_a_field_of_the_wrong_type_is_a_422_naming_it(
    served: ApiClient, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    error = _error(served.request(method, path, json=body), 422, "validation_error")
    assert error["message"].startswith(f"body.{field}"), error
    # nothing was done: no job started, no collection made
    assert _jobs(served) == []
    assert served.get("/collections/z").status_code == 404


def test_strict_compatibility_bodies_still_take_whole_numbers(served: ApiClient) -> None:
    listed = served.post("/api/databases/c/search", json={"top_k": 10.0})
    assert listed.status_code == 200, listed.text
    answer = served.post("/similarity/photos/v2/random", json={"count": "3"}, headers=XIMILAR)
    assert answer.status_code == 400 and answer.json()["status"]["text"].startswith("count:")
    answer = served.post("/similarity/photos/v2/random", json={"count": 3.0}, headers=XIMILAR)
    assert answer.status_code == 200, answer.text


# -- reindex options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"precision": "fp64"}, 422, "precision"),
        ({"signals": "bogus"}, 400, "unknown signal(s) bogus"),
        ({"signals": []}, 400, "at least one signal"),
        ({"signals": "duplicate", "precision": "int8"}, 400, "precision is the semantic"),
    ],
)
def test_a_reindex_that_cannot_work_is_refused_before_its_job(
    served: ApiClient, body: dict[str, Any], status: int, words: str
) -> None:
    r = served.post("/collections/c/reindex", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]
    assert _jobs(served) == []


# -- content types -----------------------------------------------------------------------------


def _json_routes(client: ApiClient) -> list[tuple[str, str]]:
    """Every operation of the schema that reads a JSON body: (method, path with its names
    filled)."""
    routes = []
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        for method, operation in operations.items():
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                routes.append((method.upper(), re.sub(r"\{[^}]+\}", "c", path)))
    return routes


def test_every_json_route_refuses_a_body_of_another_type(served: ApiClient) -> None:
    routes = _json_routes(served)
    assert ("POST", "/collections/c/reindex") in routes and len(routes) > 20, routes
    for method, path in routes:
        for media in ("text/plain", "application/x-www-form-urlencoded"):
            headers = {"content-type": media, **XIMILAR}
            r = served.request(method, path, content=b"{}", headers=headers)
            assert r.status_code == 415, (method, path, r.text)
            assert r.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/collections", b'{"name": "untyped"}', 201),
        ("POST", "/collections/c/records", b'{"items": []}', 200),
        ("POST", "/collections/c/records/delete", b'{"ids": ["nope"]}', 200),
        ("PATCH", "/collections/c/records/nope", b'{"merge": true}', 404),
        ("POST", "/collections/c/search", b'{"text": "a cat"}', 200),
        ("POST", "/api/databases/c/search", b'{"top_k": 2}', 200),
        ("POST", "/similarity/photos/v2/get", b'{"records": [{"_id": "nope"}]}', 200),
    ],
)
def test_a_body_without_a_content_type_is_read_as_json(
    served: ApiClient, method: str, path: str, body: bytes, status: int
) -> None:
    r = served.request(method, path, content=body, headers=XIMILAR)
    assert "content-type" not in r.request.headers
    assert r.status_code == status, r.text


def test_the_upload_route_takes_a_multipart_form_only(served: ApiClient) -> None:
    path = "/collections/c/records/upload"
    error = _error(served.post(path, json={"files": []}), 415, "unsupported_media_type")
    assert "multipart/form-data" in error["message"]
    _error(served.post(path, data={"group": "g"}), 415, "unsupported_media_type")
    missing = served.post(path, files={"group": (None, "g")})  # a form, without its files
    _error(missing, 422, "validation_error")


# -- bodies the parser cannot read, and bodies too large ---------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"[" * (LIMIT - 1), b'{"items": "\xff"}', b'{"items": '],
    ids=["nested deeper than the recursion limit", "not UTF-8", "cut short"],
)
def test_json_that_cannot_be_read_is_a_422(served: ApiClient, body: bytes) -> None:
    r = served.post(
        "/collections/c/records", content=body, headers={"content-type": "application/json"}
    )
    error = _error(r, 422, "validation_error")
    assert error["detail"][0]["type"] == "json_invalid"


def _chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize(
    ("path", "content_type", "headers"),
    [
        ("/collections/c/records", "application/json", {}),
        ("/collections/c/records/upload", "multipart/form-data; boundary=b", {}),
        ("/collections/c/search/upload", "multipart/form-data; boundary=b", {}),
        ("/collections/c/records/jsonl", "application/x-ndjson", {}),
        ("/similarity/photos/v2/insert", "application/json", XIMILAR),
    ],
)
def test_a_chunked_body_over_the_limit_is_a_413_as_with_its_length(
    served: ApiClient, path: str, content_type: str, headers: dict[str, str]
) -> None:
    if content_type.startswith("multipart"):
        part = b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n'
        body = part + b"x" * 2 * LIMIT + b"\r\n--b--\r\n"
    else:
        body = b'{"items": ["' + b"x" * 2 * LIMIT + b'"]}'
    headers = {"content-type": content_type, **headers}
    sized = served.post(path, content=body, headers=headers)
    chunked = served.post(path, content=_chunks(body), headers=headers)
    assert "content-length" not in chunked.request.headers
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    for r in (sized, chunked):
        error = _error(r, 413, "too_large")
        assert error["detail"] == {"limit": LIMIT} and "max_request_bytes" in error["message"]


# -- restore -----------------------------------------------------------------------------------


def test_a_damaged_backup_is_a_400_that_names_no_server_path(served: ApiClient) -> None:
    whole = gzip.compress(b"x" * 10_000)
    for body in (whole[: len(whole) // 2], b"", b"not gzip", whole):
        r = served.post("/collections/restore", params={"name": "x"}, content=body)
        error = _error(r, 400, "bad_input")
        assert error["message"].startswith("the uploaded backup: not a"), error
        assert "lookalike-restore-" not in r.text and "/tmp" not in r.text


# -- the schema of the errors ------------------------------------------------------------------


def test_the_schema_declares_the_error_body_the_server_sends(served: ApiClient) -> None:
    schema = served.get("/openapi.json").json()
    assert "HTTPValidationError" not in str(schema)
    error_schema = schema["components"]["schemas"]["ErrorResponse"]
    body_schema = schema["components"]["schemas"]["ErrorBody"]
    # every 422 a route declares is the project's error body
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answer = operation["responses"].get("422")
            if answer is not None:
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorResponse"), (method, path)
    # what the server sends for a 422 has what that schema requires, and nothing more
    sent = served.patch("/collections/c/records/x", json={"merge": 0}).json()
    assert set(sent) == set(error_schema["required"]) == set(error_schema["properties"])
    assert set(body_schema["required"]) <= set(sent["error"]) <= set(body_schema["properties"])
    # the routes that make jobs declare them, and what else they answer
    records = schema["paths"]["/collections/{name}/records"]["post"]["responses"]
    assert {"200", "202", "400", "404", "413", "415", "422"} <= set(records)
    for path, method in (
        ("/collections/{name}/records/upload", "post"),
        ("/collections/{name}/records/{record_id}", "patch"),
        ("/collections/{name}/records/{record_id}", "get"),
        ("/jobs/{job_id}", "get"),
    ):
        assert {"404", "422"} <= set(schema["paths"][path][method]["responses"]), path
