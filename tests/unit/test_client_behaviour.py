"""The SDK's own habits, against a stand-in server (httpx's mock transport): where it finds the
server and key, which failed requests it sends again, its timeouts and how its objects print."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from lookalike.client import (
    AsyncClient,
    Client,
    ModelUnavailable,
    Retry,
    StoreUnavailable,
)
from lookalike.client.retry import retry_after
from lookalike.client.wire import Call, request_args
from lookalike.types import Cluster, IngestReport, Member, SearchResult

Handler = Callable[[httpx.Request], httpx.Response]
NO_WAIT = Retry(retries=2, backoff=0.0)


def _client(handler: Handler, **options: object) -> Client:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return Client("http://lookalike.test", http=http, **options)  # type: ignore[arg-type]


class _Flaky:
    """Fails the first ``failures`` requests the way ``fail`` says, then answers ``ok``."""

    def __init__(self, failures: int, fail: Callable[[httpx.Request], httpx.Response]) -> None:
        self.failures = failures
        self.fail = fail
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        if len(self.seen) <= self.failures:
            return self.fail(request)
        return httpx.Response(200, json={"collections": [{"name": "photos"}], "deleted": {}})


def _unavailable(request: httpx.Request) -> httpx.Response:
    body = {"error": {"code": "store_unavailable", "message": "busy"}}
    return httpx.Response(503, json=body)


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _cut(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("server disconnected", request=request)


def test_the_server_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    keys: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers.get("X-API-Key"))
        return httpx.Response(200, json={"collections": []})

    monkeypatch.setenv("LOOKALIKE_SERVER", "http://from-env.test:9000/")
    monkeypatch.setenv("LOOKALIKE_API_KEY", "env-key")
    with Client(http=httpx.Client(transport=httpx.MockTransport(handler))) as client:
        assert client.url == "http://from-env.test:9000"
        assert client.list_collections() == []
    with Client("http://given.test", api_key="given", http=httpx.Client()) as client:
        assert client.url == "http://given.test"
        assert client._http.headers["X-API-Key"] == "given"
    assert keys == ["env-key"]
    monkeypatch.delenv("LOOKALIKE_SERVER")
    monkeypatch.delenv("LOOKALIKE_API_KEY")
    with Client() as client:
        assert client.url == "http://127.0.0.1:8000"
        assert "X-API-Key" not in client._http.headers


def test_a_busy_server_is_asked_again_for_reads() -> None:
    flaky = _Flaky(2, _unavailable)
    with _client(flaky, retry=NO_WAIT) as client:
        assert client.list_collections() == ["photos"]
    assert flaky.seen == ["GET /collections"] * 3


def test_retries_stop_after_the_configured_number() -> None:
    flaky = _Flaky(5, _unavailable)
    with _client(flaky, retry=Retry(retries=1, backoff=0.0)) as client:
        with pytest.raises(StoreUnavailable, match="busy"):
            client.list_collections()
    assert len(flaky.seen) == 2
    flaky = _Flaky(5, _unavailable)
    with _client(flaky, retry=0) as client:
        with pytest.raises(StoreUnavailable):
            client.list_collections()
    assert len(flaky.seen) == 1


def test_a_request_that_may_have_arrived_is_not_sent_twice_unless_that_is_safe() -> None:
    for fail in (_unavailable, _cut):
        flaky = _Flaky(1, fail)
        with _client(flaky, retry=NO_WAIT) as client:
            with pytest.raises(StoreUnavailable):
                client.run(_one(Call("POST", "/collections/x/people/merge")))
        assert flaky.seen == ["POST /collections/x/people/merge"]
        flaky = _Flaky(1, fail)
        with _client(flaky, retry=NO_WAIT) as client:
            client.run(_one(Call("POST", "/collections/x/records/delete", idempotent=True)))
            client.run(_one(Call("POST", "/y", headers={"Idempotency-Key": "k1"})))
        assert flaky.seen == ["POST /collections/x/records/delete"] * 2 + ["POST /y"]


def test_a_request_that_never_left_is_sent_again_whatever_it_is() -> None:
    flaky = _Flaky(2, _refused)
    with _client(flaky, retry=NO_WAIT) as client:
        client.run(_one(Call("POST", "/collections/x/people/merge")))
    assert len(flaky.seen) == 3


def test_a_lasting_cause_is_not_retried() -> None:
    def missing_model(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "model_unavailable", "message": "no model files"}}
        return httpx.Response(503, json=body)

    flaky = _Flaky(1, missing_model)
    with _client(flaky, retry=NO_WAIT) as client:
        with pytest.raises(ModelUnavailable):
            client.list_collections()
    assert len(flaky.seen) == 1


def test_the_async_client_retries_the_same_way() -> None:
    flaky = _Flaky(2, _unavailable)

    async def main() -> list[str]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(flaky))
        async with AsyncClient("http://lookalike.test", http=http, retry=NO_WAIT) as client:
            return await client.list_collections()

    assert asyncio.run(main()) == ["photos"]
    assert len(flaky.seen) == 3


def test_the_wait_grows_and_follows_retry_after() -> None:
    call = Call("GET", "/x")
    retry = Retry(retries=5, backoff=1.0, max_backoff=6.0)
    request = httpx.Request("GET", "http://lookalike.test/x")
    waits = [
        retry.wait(call, n, transport=httpx.ConnectError("no", request=request)) for n in range(6)
    ]
    assert waits[5] is None
    bounds = [(0.75, 1.0), (1.5, 2.0), (3.0, 4.0), (4.5, 6.0), (4.5, 6.0)]
    assert all(low <= w <= high for w, (low, high) in zip(waits, bounds, strict=False) if w)
    busy = httpx.Response(503, headers={"Retry-After": "5"}, json={}, request=request)
    wait = retry.wait(call, 0, error=StoreUnavailable("busy"), response=busy)
    assert wait is not None and 3.75 <= wait <= 5.0
    assert retry_after("Thu, 01 Jan 1970 00:00:00 GMT") == 0.0
    assert retry_after("soon") is None
    with pytest.raises(ValueError):
        Retry(retries=-1)


def test_timeouts_are_configurable_and_long_calls_keep_their_own() -> None:
    upload = Call("POST", "/u", timeout=600.0)
    assert request_args(Call("GET", "/x"), 5.0)["timeout"] == 5.0
    assert request_args(upload, 5.0)["timeout"] == 600.0
    assert request_args(upload, 900.0)["timeout"] == 900.0
    custom = httpx.Timeout(5.0, connect=2.0)
    assert request_args(Call("GET", "/x"), custom)["timeout"] == custom
    long = request_args(upload, custom)["timeout"]
    assert (long.connect, long.read, long.write) == (2.0, 600.0, 600.0)
    with Client("http://lookalike.test", timeout=custom) as client:
        assert client.timeout == custom


def test_results_print_readably() -> None:
    hit = SearchResult(
        "cat.jpg", 0.912345678, "/photos/cat.jpg", None, {}, {"semantic": 0.912345678}
    )
    assert repr(hit) == (
        "SearchResult(id='cat.jpg', score=0.9123, scores={'semantic': 0.9123}, "
        "source='/photos/cat.jpg')"
    )
    long = SearchResult("x", 1.0, None, None, {f"k{i}": "v" * 200 for i in range(9)})
    assert len(repr(long)) < 300
    report = IngestReport(indexed=6, seconds=0.42349)
    assert repr(report) == (
        "IngestReport(indexed=6, skipped=0, updated=0, failed=0, duplicates=0, unsafe=0, "
        "seconds=0.423)"
    )
    cluster = Cluster("a.jpg", [Member("a.jpg", None, "keep", 1.0), Member("b", None, "copy", 0.9)])
    assert repr(cluster) == "Cluster(keep='a.jpg', copies=['b'])"
    with Client("http://lookalike.test") as client:
        assert repr(client) == "Client('http://lookalike.test')"


def _one(call: Call):  # type: ignore[no-untyped-def]
    """A plan of one call."""
    yield call


def test_a_duplicate_member_read_from_json_has_its_region_as_the_core_gives_it() -> None:
    from lookalike.client.shapes import from_dict

    member = from_dict(Member, {"id": "b", "role": "copy", "score": 0.9, "region": [0, 0.1, 1, 1]})
    assert member.region == (0, 0.1, 1, 1) and member.source is None
    assert from_dict(Member, {"id": "a", "role": "keep", "score": 1.0}).region is None
