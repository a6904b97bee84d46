"""The server's metrics in Prometheus text format: requests, latencies, index sizes, ingest.

A small registry of its own rather than ``prometheus-client``: the server needs four metric
families, one process and no push gateway, and ``prometheus-client``'s global default registry
would be shared by every app built in one process (tests build many). Request metrics are
labelled by the route's template (``/collections/{name}/search``), never the raw path, so ids
in paths do not grow the label set.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lookalike.ingest import IngestReport

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Upper bounds (seconds) of the latency histogram's buckets."""
UNMATCHED = "unmatched"
"""Route label of requests that matched no route (404s of unknown paths, redirects)."""


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: int = 0
    sum: float = 0.0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
                break
        self.total += 1
        self.sum += seconds


@dataclass
class _Ingest:
    indexed: int = 0
    failed: int = 0
    seconds: float = 0.0
    last_rate: float = 0.0


@dataclass(frozen=True)
class CollectionSize:
    records: int
    hnsw_indexed: int


class Metrics:
    """Counters kept while the server runs; :meth:`render` formats them with current sizes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[tuple[str, str], _Histogram] = {}
        self._ingest: dict[str, _Ingest] = {}
        self._in_flight = 0
        self.started = time.time()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (method, route, status)
            self._requests[key] = self._requests.get(key, 0) + 1
            self._latency.setdefault((method, route), _Histogram()).observe(seconds)

    def observe_ingest(self, collection: str, report: IngestReport) -> None:
        """Engine ingest listener: every add() of every route and job lands here."""
        with self._lock:
            totals = self._ingest.setdefault(collection, _Ingest())
            totals.indexed += report.indexed
            totals.failed += len(report.failed)
            totals.seconds += report.seconds
            if report.indexed:
                totals.last_rate = report.rate

    def render(self, sizes: Mapping[str, CollectionSize]) -> str:
        with self._lock:
            requests = dict(self._requests)
            latency = {
                k: _Histogram(list(h.counts), h.total, h.sum) for k, h in self._latency.items()
            }
            ingest = {k: _Ingest(**vars(v)) for k, v in self._ingest.items()}
            in_flight = self._in_flight
        out: list[str] = []
        _family(out, "lookalike_uptime_seconds", "gauge", "Seconds since the server started.")
        out.append(f"lookalike_uptime_seconds {_num(time.time() - self.started)}")
        _family(out, "lookalike_http_requests_in_flight", "gauge", "Requests being served.")
        out.append(f"lookalike_http_requests_in_flight {in_flight}")
        _family(
            out, "lookalike_http_requests_total", "counter", "HTTP requests by route and status."
        )
        for (method, route, status), n in sorted(requests.items()):
            out.append(
                f"lookalike_http_requests_total{_labels(method=method, route=route, status=status)}"
                f" {n}"
            )
        name = "lookalike_http_request_duration_seconds"
        _family(out, name, "histogram", "Time from request to the end of the response.")
        for (method, route), h in sorted(latency.items()):
            cumulative = 0
            for bound, n in zip(BUCKETS, h.counts, strict=True):
                cumulative += n
                labels = _labels(method=method, route=route, le=_num(bound))
                out.append(f"{name}_bucket{labels} {cumulative}")
            labels = _labels(method=method, route=route, le="+Inf")
            out.append(f"{name}_bucket{labels} {h.total}")
            out.append(f"{name}_sum{_labels(method=method, route=route)} {_num(h.sum)}")
            out.append(f"{name}_count{_labels(method=method, route=route)} {h.total}")
        _family(out, "lookalike_collection_records", "gauge", "Records in each collection.")
        for coll, size in sorted(sizes.items()):
            out.append(f"lookalike_collection_records{_labels(collection=coll)} {size.records}")
        _family(
            out,
            "lookalike_collection_hnsw_indexed",
            "gauge",
            "Records covered by the HNSW graph (the rest are searched exactly).",
        )
        for coll, size in sorted(sizes.items()):
            out.append(
                f"lookalike_collection_hnsw_indexed{_labels(collection=coll)} {size.hnsw_indexed}"
            )
        for metric, kind, help_text, value in (
            ("records_indexed_total", "counter", "Images written by ingest.", "indexed"),
            ("records_failed_total", "counter", "Images that failed to ingest.", "failed"),
            ("ingest_seconds_total", "counter", "Time spent in ingest.", "seconds"),
            ("ingest_rate", "gauge", "Images per second of the last ingest.", "last_rate"),
        ):
            _family(out, f"lookalike_{metric}", kind, help_text)
            for coll, totals in sorted(ingest.items()):
                number = getattr(totals, value)
                out.append(f"lookalike_{metric}{_labels(collection=coll)} {_num(number)}")
        return "\n".join(out) + "\n"

    def in_flight(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta


class MetricsMiddleware:
    """Pure ASGI middleware timing each HTTP request until its last body byte is sent."""

    def __init__(self, app: ASGIApp, metrics: Metrics, clock: Callable[[], float] | None = None):
        self.app = app
        self.metrics = metrics
        self.clock = clock or time.perf_counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = self.clock()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_flight(1)
        try:
            await self.app(scope, receive, tracking_send)
        finally:
            self.metrics.in_flight(-1)
            route = getattr(scope.get("route"), "path", None)
            if route is None:  # the framework's own routes (/openapi.json, /docs) name none;
                # only a success proves the path is one of them, not a client's invention
                route = scope["path"] if 200 <= status < 300 else UNMATCHED
            self.metrics.observe_request(scope["method"], route, status, self.clock() - start)


def _family(out: list[str], name: str, kind: str, help_text: str) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")


def _labels(**labels: object) -> str:
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))
