"""``/health`` latency while the serving process builds an HNSW index, from the start of the
build to the close of the shard it replaced.

The build itself runs in a child process on a copy of the shard (:mod:`lookalike.store.edge_build`);
what remains in the serving process are two calls during which qdrant-edge holds the interpreter
lock and no request is answered: loading the built copy at the swap, and closing the replaced
shard a few seconds later. This script serves the app on loopback (``tests/support/server.py``),
fills a collection of ``--points`` clustered vectors in batches of ``--batch`` (as ingest writes
them, unflushed), builds its index in the serving process while a separate process asks
``/health`` every 10 ms, and keeps asking until the replaced shard is closed. Both sides run in
one run, alternating:

- ``before``: the child at the serving process's priority, the built copy loaded as it is (its
  close in the child dropped its pages from the page cache, so the load reads them from disk
  while holding the lock), and the replaced shard closed as it is (its close writes its
  unflushed pages to disk while holding the lock);
- ``after``: the child at the lowest priority (``edge_build._yield_the_cpu``), the built copy's
  files read into the page cache without the lock before its load (``edge_build.read_ahead``),
  and the replaced shard's pages written back without the lock before its close
  (``edge_build.write_back``), and the payload indexes in memory-mapped files that the load
  maps (``edge._KEYWORD_INDEX``) where the ``before`` side rebuilds them in RAM.

Printed per build: how many probes answered, their p50, p99 and max in milliseconds, how many
took over 100 ms, how long the swap's load and the replaced shard's close held the lock, and the
load average (the machine is shared: read every figure next to it).

    python benchmarks/health_during_build.py [--points 12000] [--rounds 2]
"""

from __future__ import annotations

import argparse
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
from lookalike.store.edge import EdgeCollection, EdgeStore  # noqa: E402

PROBE = """
import json, os, sys, time, httpx
url, stop = sys.argv[1], sys.argv[2]
out = []
with httpx.Client(timeout=60) as http:
    while not os.path.exists(stop):
        t = time.perf_counter()
        http.get(url).raise_for_status()
        out.append((time.perf_counter() - t) * 1000)
        time.sleep(0.01)
print(json.dumps(out))
"""

BEFORE_CHILD = (
    "import sys, qdrant_edge as qe; from lookalike.store import edge_build as b; "
    "s = qe.EdgeShard.load(sys.argv[1]); built = s.optimize(); s.flush(); "
    "built and b._settle_log(s, qe); s.close(); print('built' if built else 'unchanged')"
)
"""The child as it was: same work, at the serving process's priority."""


RAM_KEYWORD = edge.qe.PayloadSchemaType.Keyword
RAM_DATETIME = edge.qe.PayloadSchemaType.Datetime
"""Payload indexes as they were: rebuilt in RAM by every load."""


def before_child(shard_dir: Path) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", BEFORE_CHILD, str(shard_dir)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().endswith("built")


def fill(folder: Path, points: int, dim: int, batch: int, after: bool) -> EdgeCollection:
    store = EdgeStore(folder, hnsw_threshold=2_000)
    with (
        patched(edge, "_KEYWORD_INDEX", edge._KEYWORD_INDEX if after else RAM_KEYWORD),
        patched(edge, "_DATETIME_INDEX", edge._DATETIME_INDEX if after else RAM_DATETIME),
    ):
        store.create_collection("c", [VectorSpec("v", dim)], {})
    coll = store.open_collection("c")
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((200, dim)).astype("float32")
    x = centres[rng.integers(0, 200, points)] + 0.3 * rng.standard_normal((points, dim))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("float32")
    for start in range(0, points, batch):
        coll.upsert(
            [
                StoredPoint(str(i), {"n": i}, {"v": x[i].tolist()})
                for i in range(start, min(points, start + batch))
            ]
        )
    return coll


@contextmanager
def patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, original)


def timed(fn: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into.append((time.perf_counter() - t) * 1000)

    return call


def one_build(url: str, folder: Path, args: argparse.Namespace, after: bool) -> dict[str, Any]:
    coll = fill(folder, args.points, args.dim, args.batch, after)
    old_shard = coll._shard
    stop = folder / "stop"
    probe = subprocess.Popen(
        [sys.executable, "-c", PROBE, url + "/health", str(stop)], stdout=subprocess.PIPE
    )
    time.sleep(1.0)
    loads: list[float] = []
    closes: list[float] = []
    shard_class = edge.qe.EdgeShard
    with (
        patched(edge, "optimize_in_child", edge.optimize_in_child if after else before_child),
        patched(edge, "write_back", edge.write_back if after else lambda folder: None),
        patched(edge, "read_ahead", edge.read_ahead if after else lambda folder: None),
        patched(shard_class, "load", staticmethod(timed(shard_class.load, loads))),
        patched(edge, "_retire", retire_timed(closes)),
    ):
        t = time.perf_counter()
        assert coll.maintain() is True
        build_seconds = time.perf_counter() - t
        deadline = time.monotonic() + edge._RETIRE_AFTER + 60
        while not closes and time.monotonic() < deadline:  # the replaced shard's close
            time.sleep(0.1)
    assert old_shard is not coll._shard and closes, "the replaced shard was not closed"
    time.sleep(1.0)
    stop.touch()
    out, _ = probe.communicate(timeout=60)
    coll.close()
    lat = sorted(json.loads(out))
    return {
        "probes": len(lat),
        "p50": statistics.median(lat),
        "p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "max": lat[-1],
        "over_100": sum(v > 100 for v in lat),
        "build_s": build_seconds,
        "load_ms": loads[-1],
        "close_ms": closes[-1],
    }


def retire_timed(closes: list[float]) -> Callable[[Any, Path], None]:
    """``edge._retire`` with the close of the shard timed (the write-back, which lets the
    interpreter lock go, is not part of the pause)."""

    def retire(shard: Any, folder: Path) -> None:
        class Timed:
            def close(self) -> None:
                timed(shard.close, closes)()

        edge_retire(Timed(), folder)

    return retire


edge_retire = edge._retire


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=12_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "server", offline=True, default_signals=("duplicate",)
        )
        with live_server(settings) as url:
            rows: list[tuple[str, dict[str, Any]]] = []
            for r in range(args.rounds):
                for after in (False, True):
                    name = "after" if after else "before"
                    result = one_build(url, Path(tmp) / f"build-{r}-{name}", args, after)
                    rows.append((name, result))
                    print(
                        f"{name:6s} build {result['build_s']:5.1f} s  probes {result['probes']:4d}"
                        f"  p50 {result['p50']:5.1f}  p99 {result['p99']:6.1f}"
                        f"  max {result['max']:6.1f} ms  over 100 ms: {result['over_100']:2d}"
                        f"  load held {result['load_ms']:5.1f}  close held"
                        f" {result['close_ms']:5.1f} ms  (load average {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
    for name in ("before", "after"):
        mine = [r for n, r in rows if n == name]
        print(
            f"{name}: worst p99 {max(r['p99'] for r in mine):.1f} ms, worst max "
            f"{max(r['max'] for r in mine):.1f} ms, answers over 100 ms "
            f"{sum(r['over_100'] for r in mine)} of {sum(r['probes'] for r in mine)}, median "
            f"load {statistics.median(r['load_ms'] for r in mine):.1f} ms, median close "
            f"{statistics.median(r['close_ms'] for r in mine):.1f} ms"
        )


if __name__ == "__main__":
    main()
