"""``/health`` latency while the serving process fills a collection and builds its HNSW index,
from the first write to the close of the last shard a build replaced.

A build runs in a child process on a copy of a shard (:mod:`lookalike.store.edge_build`); what
remains in the serving process are two calls during which qdrant-edge holds the interpreter lock
and no request is answered: loading the built copy at the swap, and closing the replaced shard a
few seconds later. Both grow with the shard's points. This script serves the app on loopback
(``tests/support/server.py``), writes ``--points`` clustered vectors in batches of ``--batch``
(as ingest writes them) into a collection of the serving process, then builds what is left to
build (``maintain``, as the end of an ingest does), while a separate process asks ``/health``
every 10 ms, until every replaced shard is closed. Two sides, in turn:

- ``one shard``: the collection in one shard (``shard_points`` above ``--points``), built at the
  end, as every collection was before collections were split;
- ``shards``: shards of ``--shard-points`` (the ``edge_shard_points`` setting): each full one is
  built in the background while the next fills, and the last at the end.

Printed per side: how many probes answered, their p50, p99 and max in milliseconds, how many took
over 100 ms, the longest load and close of a shard (the two calls above), the time from the first
write to the last build's end, and the load average (the machine is shared: read every figure next
to it). Then each probe over 100 ms with the calls that held the interpreter lock meanwhile (a
shard's load, close or creation, a write batch, a garbage collection of generation 2): one
overlapping none waited for the CPU, not for the lock.

    python benchmarks/health_during_build.py [--points 300000] [--shard-points 100000]

(Earlier versions of this script compared the build child's priority, the read-ahead before the
load, the write-back before the close and the payload indexes' layout; docs/reliability.md keeps
their tables with the commits that measured them.)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from tests.support.server import live_server  # noqa: E402

import lookalike.store.edge as edge  # noqa: E402
from lookalike import Settings  # noqa: E402
from lookalike.store.base import StoredPoint, VectorSpec  # noqa: E402
from lookalike.store.edge import EdgeLayout, EdgeStore  # noqa: E402

PROBE = """
import json, os, sys, time, httpx
url, stop = sys.argv[1], sys.argv[2]
out = []
with httpx.Client(timeout=60) as http:
    while not os.path.exists(stop):
        t = time.perf_counter()
        http.get(url).raise_for_status()
        out.append(((time.perf_counter() - t) * 1000, time.time()))
        time.sleep(0.01)
print(json.dumps(out))
"""


@contextmanager
def patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, original)


CALLS: list[tuple[float, float, str]] = []
"""(start, end, what) of each timed call, in wall-clock seconds, to set beside the probes."""


def timed(fn: Callable[..., Any], into: list[float], what: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        t, start = time.perf_counter(), time.time()
        try:
            return fn(*args, **kwargs)
        finally:
            into.append((time.perf_counter() - t) * 1000)
            CALLS.append((start, time.time(), what))

    return call


def full_collections(phase: str, info: dict[str, int], started: list[float] = []) -> None:  # noqa: B006
    """A ``gc.callbacks`` entry noting each collection of the oldest generation."""
    if info["generation"] != 2:
        return
    if phase == "start":
        started[:] = [time.time()]
    elif started:
        CALLS.append((started[0], time.time(), "gc"))


def slow(probes: list[tuple[float, float]], over: float = 100.0) -> list[str]:
    """Each probe over ``over`` ms, with the timed calls it overlapped."""
    lines = []
    for ms, end in probes:
        if ms > over:
            start = end - ms / 1000
            during = [f"{w} {1000 * (b - a):.0f} ms" for a, b, w in CALLS if a < end and b > start]
            lines.append(f"    {ms:.0f} ms, during: {', '.join(during) or 'none of them'}")
    return lines


def retire_timed(closes: list[float]) -> Callable[[Any, Path], None]:
    """``edge._retire`` with the close of the shard timed (the write-back, which lets the
    interpreter lock go, is not part of the pause)."""
    original = edge._retire

    def retire(shard: Any, folder: Path) -> None:
        class Timed:
            def close(self) -> None:
                timed(shard.close, closes, "close")()

        original(Timed(), folder)

    return retire


def vectors(points: int, dim: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((200, dim)).astype("float32")
    x = centres[rng.integers(0, 200, points)] + 0.3 * rng.standard_normal((points, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("float32")


def one_side(url: str, folder: Path, x: np.ndarray, batch: int, per_shard: int) -> dict[str, Any]:
    store = EdgeStore(folder, hnsw_threshold=2_000, layout=EdgeLayout(shard_points=per_shard))
    store.create_collection("c", [VectorSpec("v", x.shape[1])], {})
    coll = store.open_collection("c")
    stop = folder / "stop"
    probe = subprocess.Popen(
        [sys.executable, "-c", PROBE, url + "/health", str(stop)], stdout=subprocess.PIPE
    )
    time.sleep(1.0)
    loads: list[float] = []
    closes: list[float] = []
    others: list[float] = []
    shard_class = edge.qe.EdgeShard
    CALLS.clear()
    with (
        patched(shard_class, "load", staticmethod(timed(shard_class.load, loads, "load"))),
        patched(shard_class, "create", staticmethod(timed(shard_class.create, others, "create"))),
        patched(coll, "upsert", timed(coll.upsert, others, "write")),
        patched(edge, "_retire", retire_timed(closes)),
    ):
        t = time.perf_counter()
        for start in range(0, len(x), batch):
            coll.upsert(
                [
                    StoredPoint(str(i), {"n": i}, {"v": x[i].tolist()})
                    for i in range(start, min(len(x), start + batch))
                ]
            )
        writes_s = time.perf_counter() - t
        coll.maintain()
        total_s = time.perf_counter() - t
        deadline = time.monotonic() + edge._RETIRE_AFTER + 60
        while any(coll.folder.glob("shard*.retired")) and time.monotonic() < deadline:
            time.sleep(0.1)
    time.sleep(1.0)
    stop.touch()
    out, _ = probe.communicate(timeout=60)
    status = coll.status()
    shards = sum(1 for p in coll.folder.iterdir() if p.name.startswith("shard"))
    coll.close()
    assert status.indexed == status.points == len(x), status
    probes = [(ms, end) for ms, end in json.loads(out)]
    lat = sorted(ms for ms, _ in probes)
    return {
        "shards": shards,
        "probes": len(lat),
        "p50": statistics.median(lat),
        "p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "max": lat[-1],
        "over_100": sum(v > 100 for v in lat),
        "writes_s": writes_s,
        "total_s": total_s,
        "load_ms": max(loads, default=0.0),  # (the collection was opened before: not timed)
        "close_ms": max(closes, default=0.0),
        "slow": slow(probes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=300_000)
    parser.add_argument("--shard-points", type=int, default=EdgeLayout.shard_points)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.1f}", flush=True)
    x = vectors(args.points, args.dim)
    sides = (
        ("one shard", args.points + 1),
        (f"shards of {args.shard_points:,}", args.shard_points),
    )
    gc.callbacks.append(full_collections)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "server", offline=True, default_signals=("duplicate",)
        )
        with live_server(settings) as url:
            for n, (name, per_shard) in enumerate(sides):
                r = one_side(url, Path(tmp) / f"side-{n}", x, args.batch, per_shard)
                print(
                    f"{name:>18}: {r['shards']} shard(s); writes {r['writes_s']:.1f} s, writes "
                    f"and builds {r['total_s']:.1f} s; probes {r['probes']}, p50 {r['p50']:.1f}, "
                    f"p99 {r['p99']:.1f}, max {r['max']:.1f} ms, over 100 ms: {r['over_100']}; "
                    f"longest load held {r['load_ms']:.0f} ms, longest close held "
                    f"{r['close_ms']:.0f} ms (load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
                for line in r["slow"]:
                    print(line, flush=True)


if __name__ == "__main__":
    main()
