"""The OpenAPI schema of the core routes, checked by schemathesis against the session's real
server: every response, to generated valid and invalid requests, is documented, matches its
schema, and is never a server error."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.photo_collection import add_photos
from tests.support.server import WIRE_KEYS, Wire

CONFIG = {
    # the collection that exists: random names would only ever meet 404s
    "parameters": {"path.name": "photos"},
    "checks": {
        # schema-valid requests may still be refused for what a schema cannot say: not exactly
        # one of image/text/id/vector (400), bytes that are no image (400, 415), an unknown id
        "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "413", "415"]},
    },
}


@pytest.fixture(scope="module")
def live(wire: Wire, photo_files: Path) -> str:
    """The session's real server, holding the sample photos in ``photos``."""
    add_photos(wire.engine, photo_files)
    return wire.url


@pytest.fixture(scope="module")
def core_schema(live: str) -> Any:
    config = schemathesis.Config.from_dict(CONFIG)
    return schemathesis.openapi.from_url(f"{live}/openapi.json", config=config).include(
        path_regex=r"^/(health|metrics|moderate"
        r"|collections/\{name\}/(search|search/upload|duplicates|moderate))$"
    )


KEY = {"X-API-Key": WIRE_KEYS[0]}
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
RUNS = [
    ("POST", "/collections/{name}/search", POSITIVE, 40),
    ("POST", "/collections/{name}/search", NEGATIVE, 40),
    ("POST", "/collections/{name}/search/upload", POSITIVE, 25),
    ("POST", "/collections/{name}/search/upload", NEGATIVE, 25),
    ("POST", "/moderate", POSITIVE, 10),
    ("POST", "/moderate", NEGATIVE, 10),
    ("POST", "/collections/{name}/moderate", POSITIVE, 10),
    ("POST", "/collections/{name}/moderate", NEGATIVE, 10),
    ("GET", "/health", POSITIVE, 3),  # no parameters: nothing to make invalid
    ("GET", "/metrics", POSITIVE, 3),
    # last: each valid case groups the whole collection, and may delete its copies
    ("POST", "/collections/{name}/duplicates", NEGATIVE, 10),
    ("POST", "/collections/{name}/duplicates", POSITIVE, 4),
]


@pytest.mark.parametrize(("method", "path", "mode", "examples"), RUNS)
def test_route_conforms_to_its_schema(
    core_schema: Any, method: str, path: str, mode: GenerationMode, examples: int
) -> None:
    statuses: list[int] = []

    strategy = core_schema[path][method].as_strategy(
        generation_mode=mode, path_parameters={"name": "photos"}
    )

    @given(case=strategy)
    @_examples(examples)
    def check(case: schemathesis.Case) -> None:
        assume(not _sends_nothing_for_a_part(case))
        response = case.call_and_validate(checks=_checks(), timeout=120, headers=KEY)
        statuses.append(response.status_code)

    check()
    print(f"{method} {path} {mode.value}: {sorted(Counter(statuses).items())}")
    assert set(statuses) != {404}, "only 404s: the requests never reached the collection"


def _sends_nothing_for_a_part(case: schemathesis.Case) -> bool:
    """A multipart part set to an empty list is sent as no part at all: the request is then a
    valid one that the generator counts as invalid (it meant "query is not an object")."""
    body = case.body
    return isinstance(body, dict) and "image" in body and any(v == [] for v in body.values())


def _examples(n: int) -> settings:
    """A fixed, bounded run: the same cases every time, no example database left behind."""
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def _checks() -> list[Any]:
    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        negative_data_rejection,
        positive_data_acceptance,
    ]


def test_the_schema_covers_the_core_routes(live: str, core_schema: Any) -> None:
    paths = {operation.ok().path for operation in core_schema.get_all_operations()}
    assert paths == {
        "/health",
        "/metrics",
        "/collections/{name}/search",
        "/collections/{name}/search/upload",
        "/collections/{name}/duplicates",
        "/moderate",
        "/collections/{name}/moderate",
    }
