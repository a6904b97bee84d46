"""Copy queries per second on a 10,000-image collection, and the same queries' answers.

The collection: ``benchmarks/grouping.py``'s 10,000 tiles of scikit-image's photos plus the
copy benchmark's indexed photos (``benchmarks/copydays.py``: originals and distractors); the
queries: that benchmark's copies and negatives, searched one after another with
``Collection.search(image=..., signal="duplicate", top_k=10)``. The collection is built once
into ``--data`` and reused.

With ``--vs SRC`` the same run also times another version of the package (a ``src`` folder, e.g.
``git archive COMMIT src | tar -x -C /tmp/base``): each side runs in a child process against the
same collection, in turns A B A B, and the run prints each side's queries per second, their
ratio, and per transform the share of queries whose first answer is the original at or above
the threshold, with how many top answers (id and score to 3 decimals) differ between the sides.

Settings come from the environment as in a server: ``LOOKALIKE_COPY_SEARCHES=2`` with
``--clients 2`` lets two queries extract and verify at once (the summary line names the value).

``--only negatives`` runs the negative queries alone: a stream of uploads without copies, which
verifies the most candidates (nothing ends their verification early).

    python benchmarks/copy_throughput.py [--images 10000] [--originals 12] [--every 1]
        [--clients 1] [--only all|copies|negatives] [--vs /tmp/base/src]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

COLLECTION = "copies"
THRESHOLD = 0.75
"""The copy threshold (``COPY_THRESHOLD``), written out so that a child of another version
reads the same number."""


def prepare(data: Path, images: int, originals: int, negatives: int) -> list[dict[str, Any]]:
    """Build (or reuse) the collection in ``data``; the queries as dicts."""
    from copydays import build as build_set
    from grouping import build as build_tiles
    from lookalike import Engine, Settings

    s = build_set(originals, negatives)
    marker = data / f"built-{images}-{s.folder.name}"
    if not marker.exists():
        tiles = data / "tiles"
        if not tiles.exists() or len(list(tiles.iterdir())) != images:
            build_tiles(tiles, images)
        with Engine(Settings(data_dir=data / "store", offline=True)) as engine:
            if COLLECTION in engine.list_collections():
                engine.drop_collection(COLLECTION)
            coll = engine.create_collection(COLLECTION, signals="duplicate")
            start = time.perf_counter()
            report = coll.index([tiles, s.index_dir])
            seconds = time.perf_counter() - start
        print(f"indexed {report.indexed} images in {seconds:.0f} s", flush=True)
        marker.write_text(str(report.indexed))
    return [
        {"path": str(q.path), "transform": q.transform, "expected": q.expected} for q in s.queries
    ]


def child(data: Path, queries: list[dict[str, Any]], clients: int) -> dict[str, Any]:
    """Run the queries against the built collection with the ``lookalike`` on sys.path."""
    from concurrent.futures import ThreadPoolExecutor

    from lookalike import Engine, Settings

    payloads = [Path(q["path"]).read_bytes() for q in queries]
    # ``load``: the environment's settings count (e.g. LOOKALIKE_COPY_SEARCHES), as in a server
    settings = Settings.load(data_dir=data / "store", offline=True)
    with Engine(settings) as engine:
        coll = engine.collection(COLLECTION)
        coll.search(image=payloads[0], signal="duplicate", top_k=10)  # warm up (lazy parts)

        def one(data: bytes) -> list[tuple[str, float]]:
            hits = coll.search(image=data, signal="duplicate", top_k=10)
            return [(h.id, round(h.score, 3)) for h in hits]

        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            answers = list(pool.map(one, payloads))
        seconds = time.perf_counter() - start
    return {
        "queries_per_second": len(payloads) / seconds,
        "answers": answers,
        "copy_searches": settings.copy_searches,
    }


def run_side(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, __file__, "--child", "--data", str(args.data)]
    cmd += ["--images", str(args.images), "--originals", str(args.originals)]
    cmd += ["--negatives", str(args.negatives), "--clients", str(args.clients)]
    cmd += ["--every", str(args.every), "--only", args.only]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{src}: exit {out.returncode}\n{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def rates(queries: list[dict[str, Any]], answers: list[list[Any]]) -> dict[str, float]:
    by: dict[str, list[bool]] = defaultdict(list)
    for q, a in zip(queries, answers, strict=True):
        top = a[0] if a else None
        if q["expected"] is None:
            by["negatives<thr"].append(top is None or top[1] < THRESHOLD)
        else:
            by[q["transform"]].append(
                top is not None and top[0] == q["expected"] and top[1] >= THRESHOLD
            )
    return {k: sum(v) / len(v) for k, v in by.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data" / "copy-throughput")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--originals", type=int, default=12)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--clients", type=int, default=1, help="queries at once")
    parser.add_argument("--every", type=int, default=1, help="run every n-th query only")
    parser.add_argument(
        "--only", choices=("all", "copies", "negatives"), default="all", help="which queries"
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side")
    parser.add_argument("--vs", type=Path, help="another version's src folder (the baseline)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    queries = prepare(args.data, args.images, args.originals, args.negatives)[:: args.every]
    if args.only != "all":
        queries = [q for q in queries if (q["expected"] is None) == (args.only == "negatives")]
    if args.child:
        print(json.dumps(child(args.data, queries, args.clients)))
        return
    sides = {"this": ROOT / "src"}
    if args.vs is not None:
        sides["baseline"] = args.vs.resolve()
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _ in range(args.rounds):
        for name, src in sides.items():
            runs[name].append(run_side(src, args))
            print(f"{name}: {runs[name][-1]['queries_per_second']:.2f} queries/s", flush=True)
    print(
        f"\n{len(queries)} copy queries ({args.only}, {args.clients} at once, copy_searches "
        f"{runs['this'][0]['copy_searches']}) on {args.images} tiles + the copy set's indexed "
        f"photos; load average {os.getloadavg()[0]:.1f}"
    )
    speed = {n: statistics.median(r["queries_per_second"] for r in rs) for n, rs in runs.items()}
    for name, qps in speed.items():
        print(f"{name:<9} {qps:6.2f} queries/s (median of {len(runs[name])})")
    if "baseline" in speed:
        pairs = [
            a["queries_per_second"] / b["queries_per_second"]
            for a, b in zip(runs["this"], runs["baseline"], strict=True)
        ]
        print(
            f"ratio     {statistics.median(pairs):.2f}x (median of the turns' ratios: "
            + ", ".join(f"{r:.2f}" for r in pairs)
            + ")"
        )
    answers = {n: rs[0]["answers"] for n, rs in runs.items()}
    table = {n: rates(queries, a) for n, a in answers.items()}
    differ: dict[str, int] = defaultdict(int)
    if "baseline" in answers:
        for q, a, b in zip(queries, answers["this"], answers["baseline"], strict=True):
            differ[q["transform"] if q["expected"] else "negatives<thr"] += a[:1] != b[:1]
    print(f"\n{'transform':<14}" + "".join(f"{n:>10}" for n in table) + "  top answers differing")
    for key in table["this"]:
        cells = "".join(f"{t.get(key, float('nan')):>10.3f}" for t in table.values())
        print(f"{key:<14}{cells}  {differ.get(key, 0) if 'baseline' in answers else ''}")


if __name__ == "__main__":
    main()
