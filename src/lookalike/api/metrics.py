"""The server's metrics in Prometheus' format, through ``prometheus_client``.

Each app has its own registry (tests build many apps in one process, and the library's global
registry would mix them), with the process collector's CPU, memory and file-descriptor figures.
Request metrics are labelled by the route's template (``/collections/{name}/search``), never the
raw path, so ids in paths do not grow the label set. Collection sizes are kept for
:data:`SIZE_TTL` seconds and refreshed after each ingest into that collection, so a scrape does
not count every collection each time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lookalike.api.prefix import route_path
from lookalike.ingest import IngestReport

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Upper bounds (seconds) of the latency histogram's buckets."""
UNMATCHED = "unmatched"
"""Route label of requests that matched no route (404s of unknown paths, redirects)."""
SIZE_TTL = 30.0
"""Seconds a collection's size is reused between scrapes (ingest refreshes it at once)."""
OUTCOMES = ("indexed", "skipped", "updated", "duplicate", "failed")

# No ``*_created`` series: they double the output and say little.
disable_created_metrics()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class CollectionSize:
    records: int
    hnsw_indexed: int


class Metrics:
    """The app's registry and the instruments the middleware, ingest and jobs feed."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        r = self.registry
        self.requests = Counter(
            "lookalike_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "lookalike_http_request_duration_seconds",
            "Time from request to the end of the response.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.in_flight_now = Gauge(
            "lookalike_http_requests_in_flight", "Requests being served.", registry=r
        )
        self.indexed = Counter(
            "lookalike_records_indexed", "Images written by ingest.", ["collection"], registry=r
        )
        self.failed = Counter(
            "lookalike_records_failed", "Images that failed to ingest.", ["collection"], registry=r
        )
        self.items = Counter(
            "lookalike_ingest_items",
            "Items of ingest by outcome (indexed, skipped, updated, duplicate, failed).",
            ["collection", "outcome"],
            registry=r,
        )
        self.seconds = Counter(
            "lookalike_ingest_seconds", "Time spent in ingest.", ["collection"], registry=r
        )
        self.rate = Gauge(
            "lookalike_ingest_rate",
            "Images per second of the last ingest.",
            ["collection"],
            registry=r,
        )
        self.started = time.time()
        self._live = _Live(self)
        r.register(self._live)

    def watch(
        self,
        *,
        collections: Callable[[], list[str]],
        size: Callable[[str], CollectionSize | None],
        jobs: Callable[[], Mapping[str, int]],
    ) -> None:
        """Where the scrape reads what changes on its own: collections, their sizes, jobs."""
        self._live.collections, self._live.size, self._live.jobs = collections, size, jobs

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_ingest(self, collection: str, report: IngestReport) -> None:
        """Engine ingest listener: every add() of every route and job lands here."""
        self.indexed.labels(collection).inc(report.indexed)
        self.failed.labels(collection).inc(len(report.failed))
        self.seconds.labels(collection).inc(report.seconds)
        counts = dict.fromkeys(OUTCOMES, 0)
        for outcome in report.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        for status, n in counts.items():
            self.items.labels(collection, status).inc(n)
        if report.indexed:
            self.rate.labels(collection).set(report.rate)
        self._live.forget(collection)

    def in_flight(self, delta: int) -> None:
        self.in_flight_now.inc(delta)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Live(Collector):
    """Gauges read at scrape time: uptime, collection sizes (cached), jobs by status."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.collections: Callable[[], list[str]] = list
        self.size: Callable[[str], CollectionSize | None] = lambda name: None
        self.jobs: Callable[[], Mapping[str, int]] = dict
        self._sizes: dict[str, tuple[float, CollectionSize]] = {}
        self._lock = threading.Lock()

    def forget(self, collection: str) -> None:
        with self._lock:
            self._sizes.pop(collection, None)

    def _size(self, name: str, now: float) -> CollectionSize | None:
        with self._lock:
            cached = self._sizes.get(name)
        if cached is not None and now - cached[0] < SIZE_TTL:
            return cached[1]
        size = self.size(name)
        if size is not None:
            with self._lock:
                self._sizes[name] = (now, size)
        return size

    def collect(self) -> Iterator[Metric]:
        uptime = GaugeMetricFamily("lookalike_uptime_seconds", "Seconds since the server started.")
        uptime.add_metric([], time.time() - self.metrics.started)
        yield uptime
        records = GaugeMetricFamily(
            "lookalike_collection_records", "Records in each collection.", labels=["collection"]
        )
        graph = GaugeMetricFamily(
            "lookalike_collection_hnsw_indexed",
            "Records covered by the HNSW graph (the rest are searched exactly).",
            labels=["collection"],
        )
        now = time.monotonic()
        for name in sorted(self.collections()):
            size = self._size(name, now)
            if size is not None:
                records.add_metric([name], size.records)
                graph.add_metric([name], size.hnsw_indexed)
        yield records
        yield graph
        jobs = GaugeMetricFamily(
            "lookalike_jobs", "Background ingest jobs by status.", labels=["status"]
        )
        for status, n in sorted(self.jobs().items()):
            jobs.add_metric([status], n)
        yield jobs


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
                route = route_path(scope) if 200 <= status < 300 else UNMATCHED
            self.metrics.observe_request(scope["method"], route, status, self.clock() - start)
