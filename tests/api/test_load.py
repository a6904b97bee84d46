"""20 clients search and insert through plain HTTP for 30 s against the session's real server:
no errors, and afterwards the collection holds exactly the records whose inserts were
acknowledged.

``LOOKALIKE_LOAD_SECONDS`` shortens or lengthens the run (default 30)."""

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
from PIL import Image

from tests.support.encoded import b64, encode
from tests.support.photo_collection import add_photos, record_id
from tests.support.samples import PHOTO_NAMES
from tests.support.server import Wire

COLLECTION = "load"
CLIENTS = 20
SECONDS = float(os.environ.get("LOOKALIKE_LOAD_SECONDS", "30"))


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)

    def add(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            if error is not None:
                self.errors.append(f"{kind}: {error}")


def _small_jpegs(folder: Path) -> list[bytes]:
    out = []
    for name in PHOTO_NAMES:
        im = Image.open(folder / f"{name}.jpg").convert("RGB")
        im.thumbnail((256, 256))
        out.append(encode(im, "JPEG", quality=85))
    return out


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
            if r.status_code != 200:
                tally.add(kind, seconds, f"{r.status_code} {r.text[:200]}")
            elif kind == "insert" and r.json().get("indexed") != 1:
                tally.add(kind, seconds, f"not indexed: {r.text[:200]}")
            else:
                tally.add(kind, seconds)
                if kind == "insert":
                    with tally.lock:
                        tally.acknowledged.append(rid)


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
    jpegs = _small_jpegs(photo_files)
    tally = Tally()
    started = time.monotonic()
    deadline = started + SECONDS
    threads = [
        threading.Thread(target=_client_loop, args=(wire, n, deadline, jpegs, tally))
        for n in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 120)
    elapsed = time.monotonic() - started
    assert not any(t.is_alive() for t in threads), "a client hung"
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
    assert not tally.errors, tally.errors[:5]
    assert len(tally.acknowledged) >= CLIENTS and len(everything) >= 2 * CLIENTS
    assert count == len(PHOTO_NAMES) + len(tally.acknowledged)
    assert stored == set(tally.acknowledged)
    assert indexed_after - indexed_before == len(tally.acknowledged)
