"""20 clients mix copy searches, image searches, id searches, text searches and inserts through
plain HTTP for 60 s against the session's real server.

Asserted strictly: no errors (a copy search may be refused with 503 ``busy`` and a
``Retry-After``, nothing else); copy searches verify at most ``copy_searches`` at once, wait at
most ``copy_queue`` deep (so the memory held for queued work is bounded) and get their turns in
arrival order; afterwards the collection holds exactly the records whose inserts were
acknowledged. Asserted with a margin: id and text searches keep p99 within :func:`_cheap_limit`
(the target is 200 ms, met at its edge on an idle 2-core machine; see there why the test allows
more).

``LOOKALIKE_LOAD_SECONDS`` shortens or lengthens the run (default 60)."""

from __future__ import annotations

import os
import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookalike.admission import copy_searches
from tests.support.clients import run_clients
from tests.support.encoded import b64, image_bytes
from tests.support.photo_collection import add_photos, record_id
from tests.support.samples import PHOTO_NAMES
from tests.support.server import Wire

COLLECTION = "load"
CLIENTS = 20
SECONDS = float(os.environ.get("LOOKALIKE_LOAD_SECONDS", "60"))
CHEAP_P99_MS = 2000.0
SHARE = 150


def _cheap_limit(idle_p50_ms: float) -> float:
    """p99 allowed to id and text searches under the load: 2 s, or 150 times what one takes
    alone on the same server just before, whichever is more.

    The target is 200 ms; docs/performance.md gives the figures: on a quiet 2-core machine a
    lone id search takes 2-9 ms and, among the 20 clients, p99 1.0 s before searches read only
    the vectors they score with, about 0.3 s since, and 0.17-0.19 s since they search on one
    thread and leave the keypoints out of their hits (0.16-0.20 s against a server process of
    its own, benchmarks/load_mix.py). A shared CI machine is busier than that. Each request
    shares the server with up to 19 others, inserts and image searches among them, which are not
    queued, and the test's 20 client threads run in the server's own process, sharing its
    interpreter lock: 110x the lone latency was measured there, hence 150x. On a machine loaded
    many times over by other jobs, the lone latency grows with it (128 ms at a load average of
    24 per core, p99 4.4 s under the load). What the bound and the stricter check beside it (p99
    under half a copy search's median) catch is a cheap query waiting behind copy searches, as
    before their admission was bounded."""
    return max(CHEAP_P99_MS, SHARE * idle_p50_ms)


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    refused: int = 0

    def add(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            if error is not None:
                self.errors.append(f"{kind}: {error}")


def _client_loop(wire: Wire, n: int, deadline: float, jpegs: list[bytes], tally: Tally) -> None:
    searches: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
        ("search_image", lambda i: {"image_base64": b64(jpegs[i % len(jpegs)]), "top_k": 5}),
        ("search_text", lambda i: {"text": f"photo number {i}", "top_k": 5}),
        ("search_id", lambda i: {"id": record_id(PHOTO_NAMES[i % len(PHOTO_NAMES)])}),
        (
            "search_copy",
            lambda i: {"image_base64": b64(jpegs[i % len(jpegs)]), "signal": "duplicate"},
        ),
    ]
    with httpx.Client(base_url=wire.url, headers=wire.headers, timeout=60) as client:
        i = 0
        while time.monotonic() < deadline:
            i += 1
            if i % 4 == 1:  # the first request of each client is an insert
                rid = f"load/{n}/{i}"
                item = {
                    "id": rid,
                    "base64": b64(jpegs[(n + i) % len(jpegs)]),
                    "metadata": {"n": i},
                }
                path = f"/collections/{COLLECTION}/records"
                kind, body = "insert", {"items": [item]}
            else:
                kind, make = searches[(n + i) % len(searches)]
                path, body = f"/collections/{COLLECTION}/search", make(i)
            start = time.perf_counter()
            try:
                r = client.post(path, json=body)
            except httpx.HTTPError as exc:
                tally.add(kind, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
                continue
            seconds = time.perf_counter() - start
            if r.status_code == 503 and kind == "search_copy" and _busy(r):
                with tally.lock:
                    tally.refused += 1
                time.sleep(float(r.headers["retry-after"]))
                continue
            if r.status_code != 200:
                tally.add(kind, seconds, f"{r.status_code} {r.text[:200]}")
            elif kind == "insert" and r.json().get("indexed") != 1:
                tally.add(kind, seconds, f"not indexed: {r.text[:200]}")
            else:
                tally.add(kind, seconds)
                if kind == "insert":
                    with tally.lock:
                        tally.acknowledged.append(rid)


def _alone(wire: Wire) -> dict[str, float]:
    """Median ms of an id and of a text search on the idle server (texts never repeated)."""
    out = {}
    with httpx.Client(base_url=wire.url, headers=wire.headers, timeout=60) as client:
        for kind, body in (
            ("search_id", lambda i: {"id": record_id(PHOTO_NAMES[i % len(PHOTO_NAMES)])}),
            ("search_text", lambda i: {"text": f"a lone query number {i}", "top_k": 5}),
        ):
            times = []
            for i in range(12):
                start = time.perf_counter()
                client.post(f"/collections/{COLLECTION}/search", json=body(i)).raise_for_status()
                times.append(1000 * (time.perf_counter() - start))
            out[kind] = statistics.median(times[2:])
    return out


def _busy(r: httpx.Response) -> bool:
    """A well-formed refusal: code ``busy`` and a Retry-After of whole seconds."""
    retry = r.headers.get("retry-after", "")
    return r.json()["error"]["code"] == "busy" and retry.isdigit() and int(retry) >= 1


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _indexed_total(wire: Wire) -> int:
    metrics = httpx.get(f"{wire.url}/metrics", headers=wire.headers).text
    found = re.search(
        rf'^lookalike_records_indexed_total{{collection="{COLLECTION}"}} (\S+)$', metrics, re.M
    )
    assert found, metrics
    return int(float(found.group(1)))


@pytest.mark.slow
@pytest.mark.timeout(int(SECONDS) + 180)
def test_twenty_clients_search_and_insert_without_errors(wire: Wire, photo_files: Path) -> None:
    add_photos(wire.engine, photo_files, COLLECTION)
    indexed_before = _indexed_total(wire)  # the photos above, added through the server's engine
    jpegs = [image_bytes(name, side=256) for name in PHOTO_NAMES]
    idle = _alone(wire)
    tally = Tally()
    started = time.monotonic()
    deadline = started + SECONDS
    ended = run_clients(
        CLIENTS, lambda n: _client_loop(wire, n, deadline, jpegs, tally), timeout=SECONDS + 120
    )
    elapsed = time.monotonic() - started
    assert ended, "a client hung"
    indexed_after = _indexed_total(wire)
    collection = wire.engine.collection(COLLECTION)
    count = collection.count()
    stored = {p.id for p in collection.store.retrieve(tally.acknowledged)}

    everything = [s for values in tally.latencies.values() for s in values]
    print(
        f"\nload: {CLIENTS} clients, {elapsed:.1f} s, {len(everything)} requests "
        f"({len(everything) / elapsed:.1f}/s), {len(tally.errors)} errors, "
        f"p50 {statistics.median(everything) * 1000:.0f} ms, "
        f"p99 {_percentile(everything, 0.99) * 1000:.0f} ms"
    )
    for kind, values in sorted(tally.latencies.items()):
        print(
            f"  {kind:12} {len(values):5} requests  p50 {statistics.median(values) * 1000:6.0f} ms"
            f"  p99 {_percentile(values, 0.99) * 1000:6.0f} ms"
        )
    print(
        f"  records: {len(PHOTO_NAMES)} before, {len(tally.acknowledged)} inserts acknowledged, "
        f"{count} after"
    )
    gate = copy_searches(wire.settings.copy_searches, wire.settings.copy_queue)
    print(
        f"  copy searches: at most {gate.peak_active} verifying at once "
        f"(bound {gate.running}), at most {gate.peak_waiting} waiting (bound {gate.waiting}), "
        f"{tally.refused} refused with 503, {gate.out_of_order} served out of order"
    )
    assert not tally.errors, tally.errors[:5]
    assert gate.peak_active <= gate.running and gate.peak_waiting <= gate.waiting
    assert gate.out_of_order == 0
    assert len(tally.latencies.get("search_copy", [])) >= 5  # served, if in turn
    copy_p50 = statistics.median(tally.latencies["search_copy"]) * 1000
    for kind in ("search_id", "search_text"):
        p99 = _percentile(tally.latencies[kind], 0.99) * 1000
        limit = _cheap_limit(idle[kind])
        print(
            f"  {kind}: p99 {p99:.0f} ms (alone p50 {idle[kind]:.1f} ms; allowed {limit:.0f}; "
            f"copy p50 {copy_p50:.0f} ms; load average {os.getloadavg()[0]:.1f})"
        )
        assert p99 < copy_p50 / 2, f"{kind} waits like copy searches: p99 {p99:.0f} ms"
        assert p99 <= limit, f"{kind}: p99 {p99:.0f} ms over {limit:.0f} ms"
    assert len(tally.acknowledged) >= CLIENTS and len(everything) >= 2 * CLIENTS
    assert count == len(PHOTO_NAMES) + len(tally.acknowledged)
    assert stored == set(tally.acknowledged)
    assert indexed_after - indexed_before == len(tally.acknowledged)
