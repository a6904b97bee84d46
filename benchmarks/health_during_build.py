"""``/health`` latency while the serving process builds an HNSW index, before and after the
build's write-ahead log is settled (:func:`lookalike.store.edge_build._settle_log`).

The build itself runs in a child process on a copy of the shard; what remains in the serving
process is loading the built copy, during which qdrant-edge holds the interpreter lock and no
request is answered. This script serves the app on loopback (``tests/support/server.py``), fills
a collection of ``--points`` clustered vectors in batches of ``--batch`` (as ingest writes them),
and builds its index in the serving process while a separate process asks ``/health`` every
10 ms. Both sides run in one run, alternating: ``unsettled`` is the child as it was (optimize and
flush only), ``settled`` the child of today. Printed: per side, how many probes answered, their
p50, p99 and max in milliseconds, the swap's load time, and the load average.

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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from tests.support.server import live_server  # noqa: E402

import lookalike.store.edge as edge  # noqa: E402
from lookalike import Settings  # noqa: E402
from lookalike.store.base import StoredPoint, VectorSpec  # noqa: E402
from lookalike.store.edge import EdgeStore  # noqa: E402

PROBE = """
import json, sys, time, httpx
url, stop = sys.argv[1], sys.argv[2]
import os
out = []
with httpx.Client(timeout=30) as http:
    while not os.path.exists(stop):
        t = time.perf_counter()
        http.get(url).raise_for_status()
        out.append((time.perf_counter() - t) * 1000)
        time.sleep(0.01)
print(json.dumps(out))
"""

OLD_CHILD = (
    "import sys, qdrant_edge as qe; s = qe.EdgeShard.load(sys.argv[1]); "
    "b = s.optimize(); s.flush(); s.close(); print('built' if b else 'unchanged')"
)


def unsettled_child(shard_dir: Path) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", OLD_CHILD, str(shard_dir)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().endswith("built")


def fill(folder: Path, points: int, dim: int, batch: int) -> Any:
    store = EdgeStore(folder, hnsw_threshold=2_000)
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


def one_build(url: str, folder: Path, args: argparse.Namespace, settled: bool) -> dict[str, Any]:
    coll = fill(folder, args.points, args.dim, args.batch)
    stop = folder / "stop"
    probe = subprocess.Popen(
        [sys.executable, "-c", PROBE, url + "/health", str(stop)], stdout=subprocess.PIPE
    )
    time.sleep(1.0)
    original = edge.optimize_in_child
    if not settled:
        edge.optimize_in_child = unsettled_child  # type: ignore[assignment]
    load_seconds = 0.0
    real_load = edge.qe.EdgeShard.load

    def timed_load(*a: Any, **k: Any) -> Any:
        nonlocal load_seconds
        t = time.perf_counter()
        shard = real_load(*a, **k)
        load_seconds = time.perf_counter() - t
        return shard

    edge.qe.EdgeShard.load = timed_load
    try:
        assert coll.maintain() is True
    finally:
        edge.optimize_in_child = original
        edge.qe.EdgeShard.load = real_load
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
        "load_ms": load_seconds * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=12_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "server", offline=True, default_signals=("duplicate",)
        )
        with live_server(settings) as url:
            rows: list[tuple[str, dict[str, Any]]] = []
            for r in range(args.rounds):
                for settled in (False, True):
                    folder = Path(tmp) / f"build-{r}-{settled}"
                    result = one_build(url, folder, args, settled)
                    name = "settled" if settled else "unsettled"
                    rows.append((name, result))
                    print(
                        f"{name:9s} probes {result['probes']:4d}  p50 {result['p50']:6.1f} ms  "
                        f"p99 {result['p99']:6.1f} ms  max {result['max']:6.1f} ms  "
                        f"load {result['load_ms']:6.1f} ms  "
                        f"(load average {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
    for name in ("unsettled", "settled"):
        mine = [r for n, r in rows if n == name]
        print(
            f"{name}: worst p99 {max(r['p99'] for r in mine):.1f} ms, worst max "
            f"{max(r['max'] for r in mine):.1f} ms, median load "
            f"{statistics.median(r['load_ms'] for r in mine):.1f} ms"
        )


if __name__ == "__main__":
    main()
