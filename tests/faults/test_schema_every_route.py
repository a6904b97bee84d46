"""Fault: generated hostile requests to every route of the schema, compatibility routes and
uploads included.

Injected: schemathesis' negative mode (requests its schema says are invalid: wrong types,
missing and extra fields, bad headers and query strings, broken multipart and JSONL bodies)
against each operation of a live server, and its positive mode against the routes that change
nothing; the collection that exists is named in each request so the cases reach it. Whatever
comes in, the answer is never a server error (5xx). ``tests/api/test_schema.py`` checks the
core routes' answers against their schema in depth; this one covers every route, shallowly.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from lookalike.api import create_app
from lookalike.config import Settings
from tests.support.photo_collection import index_photos
from tests.support.server import live_server

COLLECTION = "photos"
SCRATCH = "scratch"
"""The collection the routes that delete or regroup are pointed at."""
PARAMETERS = {"name": COLLECTION, "db_id": COLLECTION, "record_id": "people/camera.jpg"}


@schemathesis.serializer("application/x-ndjson", "application/gzip")
def _raw_body(ctx: Any, value: Any) -> bytes:
    """A JSONL or backup body: bytes or a string as they are, anything else generated as one
    JSON line (a backup that is no gzip file is then one more hostile input)."""
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8", "replace")


def _server_settings(data_dir: Path, tiny_model: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        offline=True,
        default_model=str(tiny_model),
        decode_workers=1,
        fetch_retries=0,  # generated image URLs name hosts that do not exist: fail fast
        fetch_timeout=3.0,
    )


def _operations() -> dict[tuple[str, str], bool]:
    """Every operation of the schema, read from the app itself (so a new route is covered),
    and whether it takes an input that can be invalid (none, or only path parameters, which any
    string fills, leave nothing for negative cases: such routes are sent valid ones)."""
    app = create_app(Settings(data_dir=Path("/nonexistent-schema-only"), offline=True))
    return {
        (method.upper(), path): bool(
            [p for p in op.get("parameters", []) if p["in"] != "path"] or op.get("requestBody")
        )
        for path, methods in app.openapi()["paths"].items()
        for method, op in methods.items()
    }


OPERATIONS = _operations()
CHANGES_NOTHING = {("GET", p) for m, p in OPERATIONS if m == "GET" and "thumbnails" not in p} | {
    ("POST", "/collections/{name}/search"),
    ("POST", "/collections/{name}/search/upload"),
    ("POST", "/collections/{name}/eval"),
    ("POST", "/api/databases/{db_id}/search"),
    ("POST", "/similarity/photos/v2/visualKNN"),
    ("POST", "/similarity/photos/v2/get"),
    ("POST", "/similarity/photos/v2/allRecords"),
    ("POST", "/similarity/photos/v2/ping"),
}
DESTRUCTIVE = {
    ("DELETE", "/collections/{name}"),
    ("DELETE", "/collections/{name}/records/{record_id}"),
    ("POST", "/collections/{name}/records/delete"),
    ("POST", "/collections/{name}/duplicates"),
    ("POST", "/collections/{name}/people/merge"),
    ("POST", "/collections/{name}/people/{person}/split"),
    ("POST", "/similarity/photos/v2/delete"),
}


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, photo_files: Path
) -> Iterator[str]:
    server = _server_settings(tmp_path_factory.mktemp("every-route") / "data", tiny_model)
    index_photos(server, photo_files, COLLECTION)
    index_photos(server, photo_files, SCRATCH)
    with live_server(server) as url:
        yield url


@pytest.fixture(scope="module")
def schema(live: str) -> Any:
    return schemathesis.openapi.from_url(f"{live}/openapi.json")


def _runs() -> list[Any]:
    runs = []
    # destructive routes last, so that the others meet the collection whole
    last = ("DELETE", "/collections/{name}")
    for method, path in sorted(OPERATIONS, key=lambda op: (op in DESTRUCTIVE, op == last)):
        modes = [GenerationMode.NEGATIVE] if OPERATIONS[method, path] else []
        if (method, path) in CHANGES_NOTHING or not modes:
            modes.append(GenerationMode.POSITIVE)
        for mode in modes:
            runs.append(pytest.param(method, path, mode, id=f"{method} {path} {mode.value}"))
    return runs


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "mode"), _runs())
def test_no_request_is_a_server_error(
    schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = schema[path][method]
    target = SCRATCH if (method, path) in DESTRUCTIVE else COLLECTION
    names = {**PARAMETERS, "name": target, "db_id": target}
    path_parameters = {
        p["name"]: names[p["name"]]
        for p in operation.definition.raw.get("parameters", [])
        if p.get("in") == "path" and p["name"] in names
    }
    headers = {"collection-id": target} if path.startswith("/similarity/") else None
    strategy = operation.as_strategy(
        generation_mode=mode, path_parameters=path_parameters, headers=headers
    )
    statuses: list[int] = []

    @given(case=strategy)
    @settings(
        max_examples=8,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call(timeout=120)
        statuses.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    check()
    print(f"{method} {path} {mode.value}: {sorted(Counter(statuses).items())}")
    assert statuses and all(s < 500 for s in statuses)


def test_every_route_of_the_app_is_in_the_runs() -> None:
    runs = [r.values for r in _runs()]
    covered = {(m, p) for m, p, _ in runs}
    assert covered == set(OPERATIONS)
    assert {p for _, p in OPERATIONS} >= {
        "/api/databases/{db_id}/documents",
        "/similarity/photos/v2/insert",
        "/collections/{name}/records/upload",
        "/collections/{name}/search/upload",
    }
    # every operation that takes an input is sent invalid requests
    negative = {(m, p) for m, p, mode in runs if mode == GenerationMode.NEGATIVE}
    assert negative == {op for op, has_input in OPERATIONS.items() if has_input}
