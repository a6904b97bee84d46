"""The embedded store at a million images: ingest, index build, memory, disk, latency, recall.

Vectors of 512 dimensions shaped like image embeddings (uniform random vectors are HNSW's worst
case and say nothing about photos): ``--clusters`` clusters of unequal sizes on a
``--manifold``-dimensional subspace, a spread around each centre, isotropic noise, normalised.
They are made in chunks from a seed, so the exact neighbours of the queries are found by making
the chunks again, and no process ever holds the whole set.

For each layout (``plain``: full vectors in RAM; ``quantized``: full vectors on disk,
memory-mapped, an int8 copy in RAM, rescoring) the points are written through the project's own
store seam (``EdgeStore``, a realistic payload per point), the HNSW graph is built by
``maintain()`` (in its child process, as ``lookalike index`` does) while a thread keeps querying
the collection, and then a fresh process (the serving process: nothing of the benchmark's in it)
opens the built collection and answers the queries at each ``--ef``; its RSS is read from
/proc. recall@10 is against exact search over the same vectors.

    python benchmarks/vector_scale.py --points 100000
    python benchmarks/vector_scale.py --points 1000000 --layouts quantized --json out.json

The figures of docs/scaling.md come from this script; the machine's load average is printed
beside them (the development machine is shared, so times are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# One BLAS thread: the benchmark's own matrix products are small, and idle OpenBLAS threads
# spin on a core that the store's writes need (a third of the insert time on 2 cores).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from lookalike.store.base import StoredPoint, VectorQuery, VectorSpec
from lookalike.store.edge import EdgeLayout, EdgeSearch, EdgeStore

VECTOR = "semantic"
COLLECTION = "scale"
LAYOUTS = {
    "plain": EdgeLayout(on_disk=False, quantization=False),
    "quantized": EdgeLayout(on_disk=True, quantization=True),
}


@dataclass(frozen=True)
class Shape:
    """How the vectors are made: the same arguments make the same vectors."""

    dims: int = 512
    clusters: int = 2000
    manifold: int = 48
    spread: float = 0.45
    noise: float = 0.35
    seed: int = 7

    def _frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, 0])
        basis, _ = np.linalg.qr(rng.standard_normal((self.dims, self.manifold)))
        centres = rng.standard_normal((self.clusters, self.manifold)).astype(np.float32)
        weights = 1.0 / np.arange(1, self.clusters + 1) ** 0.5  # unequal cluster sizes
        return basis.T.astype(np.float32), centres, weights / weights.sum()

    def chunk(self, index: int, size: int, *, stream: int = 1) -> np.ndarray:
        """``size`` unit vectors of chunk ``index`` (stream 1: the collection; 2: queries)."""
        basis, centres, weights = _FRAMES.setdefault(self, self._frame())
        rng = np.random.default_rng([self.seed, stream, index])
        which = rng.choice(self.clusters, size=size, p=weights)
        local = centres[which] + self.spread * rng.standard_normal(
            (size, self.manifold), dtype=np.float32
        ) * np.sqrt(1.0)
        x = local @ basis
        x *= 1.0 / np.sqrt(self.manifold)
        x += (
            self.noise
            * rng.standard_normal((size, self.dims), dtype=np.float32)
            / np.sqrt(self.dims)
        )
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32)


_FRAMES: dict[Shape, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def chunks(total: int, size: int) -> list[tuple[int, int, int]]:
    """(index, start, length) of each chunk of ``total`` points."""
    return [(i, start, min(size, total - start)) for i, start in enumerate(range(0, total, size))]


def payload(i: int) -> dict[str, Any]:
    """What an indexed photo carries besides its vectors (sizes like a real record's)."""
    digest = f"{(i * 2654435761) % 2**64:016x}" * 4
    return {
        "source": f"/photos/{i // 1000:04d}/IMG_{i:07d}.jpg",
        "content_hash": digest,
        "width": 4032,
        "height": 3024,
        "indexed_at": "2026-12-06T10:00:00+00:00",
        "model": "Qdrant/clip-ViT-B-32-vision",
        "group": f"sku-{i // 4}",
        "metadata": {"album": f"album-{i % 97}", "price": float(i % 500)},
    }


def exact_top(shape: Shape, total: int, chunk: int, queries: np.ndarray, k: int) -> np.ndarray:
    """The ids of the exact ``k`` nearest points of each query, chunk by chunk (chunks of the
    size the ingest wrote: a chunk's vectors depend on its index and size)."""
    best_ids = np.full((len(queries), k), -1, dtype=np.int64)
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    for index, start, length in chunks(total, chunk):
        scores = queries @ shape.chunk(index, length).T
        ids = np.broadcast_to(np.arange(start, start + length), scores.shape)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_ids = np.concatenate([best_ids, ids], axis=1)
        top = np.argpartition(-all_scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_ids = np.take_along_axis(all_ids, top, axis=1)
    return best_ids


def memory() -> dict[str, int]:
    """This process's resident memory from /proc (bytes): all, anonymous, file-backed, peak."""
    wanted = {"VmRSS": "rss", "RssAnon": "rss_anon", "RssFile": "rss_file", "VmHWM": "peak"}
    out: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            out[wanted[key]] = int(value.split()[0]) * 1024
    return out


def _build_child_peak() -> int:
    """Peak RSS (bytes) of this process's index-build child, if one runs (0 if none)."""
    peak = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if int(fields.get("PPid", "0")) == os.getpid() and b"edge_build" in cmdline:
            peak = max(peak, int(fields.get("VmHWM", "0 kB").split()[0]) * 1024)
    return peak


def disk_bytes(folder: Path) -> tuple[int, int]:
    """(blocks used, apparent size) of the files under ``folder``."""
    used = apparent = 0
    for path in folder.rglob("*"):
        if path.is_file():
            st = path.stat()
            used += st.st_blocks * 512
            apparent += st.st_size
    return used, apparent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def ingest(
    folder: Path, layout: EdgeLayout, shape: Shape, total: int, batch: int, probes: np.ndarray
) -> dict[str, Any]:
    """Write ``total`` points through the store seam, then build the index while querying."""
    store = EdgeStore(folder, layout=layout)
    store.create_collection(COLLECTION, [VectorSpec(VECTOR, shape.dims)], {"signals": [VECTOR]})
    collection = store.open_collection(COLLECTION)
    making = 0.0  # making the vectors is the benchmark's work, not the store's
    child_peak = [0]
    started = time.perf_counter()
    for index, start, length in chunks(total, batch):
        if index % 20 == 0:  # full shards are built while the next fills
            child_peak[0] = max(child_peak[0], _build_child_peak())
        made = time.perf_counter()
        vectors = shape.chunk(index, length)
        making += time.perf_counter() - made
        collection.upsert(
            [
                StoredPoint(str(start + j), payload(start + j), {VECTOR: vectors[j].tolist()})
                for j in range(length)
            ]
        )
    collection.flush()
    insert_s = time.perf_counter() - started - making

    during: list[float] = []
    building = threading.Event()
    building.set()

    def probe() -> None:
        n = 0
        while building.is_set():
            child_peak[0] = max(child_peak[0], _build_child_peak())
            vector = probes[n % len(probes)].tolist()
            t = time.perf_counter()
            collection.search(VectorQuery(VECTOR, vector), limit=10)
            during.append(time.perf_counter() - t)
            n += 1
            time.sleep(0.2)

    prober = threading.Thread(target=probe, daemon=True)
    started = time.perf_counter()
    prober.start()
    built = collection.maintain()
    build_s = time.perf_counter() - started
    building.clear()
    prober.join()
    status = collection.status()
    collection.close()
    shard = folder / "collections" / COLLECTION
    for _ in range(100):  # a swapped-out shard is deleted a few seconds after its build
        if not any(shard.glob("shard*.retired")):
            break
        time.sleep(0.1)
    used, apparent = disk_bytes(shard)
    return {
        "insert_s": round(insert_s, 1),
        "making_vectors_s": round(making, 1),
        "insert_per_s": round(total / insert_s),
        "build_s": round(build_s, 1),
        "total_s": round(insert_s + build_s, 1),
        "built": built,
        "indexed": status.indexed,
        "points": status.points,
        "build_child_peak_bytes": child_peak[0],
        "ingest_process_peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "queries_during_build": len(during),
        "during_build_p50_ms": round(1000 * statistics.median(during), 1) if during else None,
        "during_build_p99_ms": round(1000 * percentile(during, 99), 1) if during else None,
        "during_build_max_ms": round(1000 * max(during), 1) if during else None,
        "disk_bytes": used,
        "disk_apparent_bytes": apparent,
    }


def serve(folder: Path, queries_file: Path, efs: list[int], oversampling: list[float]) -> None:
    """The serving process: open the built collection, answer the queries, report to stdout."""
    queries = np.load(queries_file)
    before = memory()
    store = EdgeStore(folder)
    started = time.perf_counter()
    collection = store.open_collection(COLLECTION)  # the shard's load holds the interpreter lock
    open_s = time.perf_counter() - started
    quantized = bool((collection.config().get("layout") or {}).get("quantization"))
    opened = memory()
    runs = []
    for vector in queries[: min(50, len(queries))]:  # warm-up: first touches of the files
        collection.search(VectorQuery(VECTOR, vector.tolist()), limit=10)
    for ef in efs:
        for over in oversampling:
            search = EdgeSearch(hnsw_ef=ef, oversampling=over)
            collection.params = search.params(quantized=quantized)
            times, found = [], []
            for vector in queries:
                as_list = vector.tolist()
                t = time.perf_counter()
                hits = collection.search(VectorQuery(VECTOR, as_list), limit=10)
                times.append(time.perf_counter() - t)
                found.append([int(h.id) for h in hits])
            runs.append({"ef": ef, "oversampling": over, "times": times, "found": found})
    after = memory()
    collection.close()
    report = {"before_open": before, "opened": opened, "after": after, "runs": runs}
    json.dump({**report, "open_s": open_s}, sys.stdout)


def measure_serving(
    folder: Path, queries: np.ndarray, truth: np.ndarray, efs: list[int], over: list[float]
) -> dict[str, Any]:
    queries_file = folder / "queries.npy"
    np.save(queries_file, queries)
    done = subprocess.run(
        [sys.executable, __file__, "--serve", str(folder), "--queries-file", str(queries_file)]
        + ["--ef", ",".join(map(str, efs)), "--oversampling", ",".join(map(str, over))],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout)
    rows = []
    for run in report["runs"]:
        pairs = zip(run["found"], truth, strict=True)
        recall = np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in pairs])
        rows.append(
            {
                "ef": run["ef"],
                "oversampling": run["oversampling"],
                "recall_at_10": round(float(recall), 4),
                "p50_ms": round(1000 * statistics.median(run["times"]), 2),
                "p99_ms": round(1000 * percentile(run["times"], 99), 2),
            }
        )
    return {
        "serving_open_ms": round(1000 * report["open_s"]),
        "serving_rss_before_open": report["before_open"]["rss"],
        "serving_rss_opened": report["opened"]["rss"],
        "serving_rss": report["after"]["rss"],
        "serving_rss_anon": report["after"]["rss_anon"],
        "serving_rss_file": report["after"]["rss_file"],
        "serving_peak": report["after"]["peak"],
        "search": rows,
    }


def gib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**30:.2f} GiB"


_FIGURES = (
    "insert_s",
    "insert_per_s",
    "build_s",
    "total_s",
    "build_child_peak_bytes",
    "disk_bytes",
    "queries_during_build",
    "during_build_p50_ms",
    "during_build_p99_ms",
    "during_build_max_ms",
    "serving_open_ms",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--layouts", default="plain,quantized")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--ef", default="16,32,64,128,256")
    parser.add_argument("--oversampling", default="1,2,4")
    parser.add_argument("--m", type=int, default=16, help="HNSW links per point (hnsw_m)")
    parser.add_argument(
        "--ef-construct", type=int, default=100, help="HNSW build candidates (hnsw_ef_construct)"
    )
    parser.add_argument(
        "--shard-points",
        type=int,
        default=EdgeLayout.shard_points,
        help="points per shard of the embedded store (edge_shard_points)",
    )
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--manifold", type=int, default=48)
    parser.add_argument("--folder", type=Path, help="where the collections go (default: a temp)")
    parser.add_argument("--keep", action="store_true", help="keep the collections afterwards")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the collections kept in --folder again"
    )
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    efs = [int(x) for x in args.ef.split(",")]
    over = [float(x) for x in args.oversampling.split(",")]
    if args.serve:
        serve(args.serve, args.queries_file, efs, over)
        return

    shape = Shape(dims=args.dims, clusters=args.clusters, manifold=args.manifold)
    queries = shape.chunk(0, args.queries, stream=2)
    started = time.perf_counter()
    truth = exact_top(shape, args.points, args.batch, queries, 10)  # the chunks ingest makes
    exact_s = time.perf_counter() - started
    root = args.folder or Path(tempfile.mkdtemp(prefix="vector-scale-"))
    results: dict[str, Any] = {
        "points": args.points,
        "shape": shape.__dict__,
        "hnsw": {"m": args.m, "ef_construct": args.ef_construct},
        "shard_points": args.shard_points,
        "queries": args.queries,
        "exact_numpy_ms_per_query_batched": round(1000 * exact_s / args.queries, 2),
        "load_before": os.getloadavg(),
        "layouts": {},
    }
    print(
        f"{args.points:,} points x {shape.dims} dims, HNSW m {args.m} ef_construct "
        f"{args.ef_construct}, shards of {args.shard_points:,} points; load average "
        f"{os.getloadavg()}"
    )
    for name in args.layouts.split(","):
        folder = root / name
        layout = replace(
            LAYOUTS[name],
            hnsw_m=args.m,
            hnsw_ef_construct=args.ef_construct,
            shard_points=args.shard_points,
        )
        if args.reuse:
            previous = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
            measured = previous.get("layouts", {}).get(name, {})
        else:
            shutil.rmtree(folder, ignore_errors=True)
            measured = ingest(folder, layout, shape, args.points, args.batch, queries)
        measured.update(
            measure_serving(folder, queries, truth, efs, over if layout.quantization else [1.0])
        )
        measured["load_after"] = os.getloadavg()
        results["layouts"][name] = measured
        measured = {**dict.fromkeys(_FIGURES), **measured}
        print(
            f"\n[{name}] insert {measured['insert_s']} s ({measured['insert_per_s']}/s), "
            f"then index build {measured['build_s']} s (insert and build "
            f"{measured['total_s']} s; build child peak "
            f"{gib(measured['build_child_peak_bytes'])}), disk {gib(measured['disk_bytes'])}; "
            f"serving RSS {gib(measured['serving_rss'])} (anon "
            f"{gib(measured['serving_rss_anon'])}, file-backed "
            f"{gib(measured['serving_rss_file'])}); queries during the build: "
            f"{measured['queries_during_build']}, p50 {measured['during_build_p50_ms']} ms, "
            f"p99 {measured['during_build_p99_ms']} ms, max {measured['during_build_max_ms']} ms; "
            f"a fresh process opens it in {measured['serving_open_ms']} ms; "
            f"load {measured['load_after']}"
        )
        print("  ef  oversampling  recall@10  p50 ms  p99 ms")
        for row in measured["search"]:
            print(
                f"  {row['ef']:>3}  {row['oversampling']:>12}  {row['recall_at_10']:>9}"
                f"  {row['p50_ms']:>6}  {row['p99_ms']:>6}"
            )
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if not args.keep and args.folder is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
