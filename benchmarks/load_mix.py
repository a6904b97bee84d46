"""Cheap queries under load: the mix of tests/api/test_load.py against ``lookalike serve``, run
from this checkout and, as the baseline, from another one, in turns.

20 clients for ``--seconds`` each cycle through an insert, an image search, a text search, an id
search and a copy search (the tests' tiny CLIP model, 256 px JPEGs of real photos, the default
signals), against a real server process on a fresh data folder. Each side runs ``--pairs``
times, baseline then this checkout, back to back, so the machine's load falls on both alike;
the table gives each run's requests, p50 and p99 per kind and the server's own ``search`` time
(its ``Server-Timing``), then the median ratio this/baseline of each figure.

    git worktree add --detach /tmp/before <commit>
    python benchmarks/load_mix.py --baseline /tmp/before [--seconds 30] [--pairs 2]

Without ``--baseline`` it measures this checkout alone.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.support.clients import run_clients  # noqa: E402
from tests.support.clip_onnx import build_tiny_clip  # noqa: E402
from tests.support.encoded import b64, image_bytes  # noqa: E402
from tests.support.samples import PHOTO_NAMES, photo  # noqa: E402
from tests.support.server import free_port  # noqa: E402

CLIENTS = 20
KEY = "bench-key"
KINDS = ("insert", "search_image", "search_text", "search_id", "search_copy")


def _serve(src: Path, data: Path, model: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        PYTHONPATH=str(src),
        LOOKALIKE_DATA_DIR=str(data),
        LOOKALIKE_OFFLINE="true",
        LOOKALIKE_DEFAULT_MODEL=str(model),
        LOOKALIKE_DEFAULT_SIGNALS="semantic,duplicate",
        LOOKALIKE_DECODE_WORKERS="1",
        LOOKALIKE_API_KEYS=KEY,
    )
    cmd = [sys.executable, "-m", "lookalike", "serve", "--port", str(port)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the server at {url} did not start")


def _client(
    url: str, n: int, deadline: float, jpegs: list[bytes], out: dict[str, list[tuple[float, float]]]
) -> None:
    ids = [f"photo/{name}" for name in PHOTO_NAMES]
    searches: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
        ("search_image", lambda i: {"image_base64": b64(jpegs[i % len(jpegs)]), "top_k": 5}),
        ("search_text", lambda i: {"text": f"photo number {n} {i}", "top_k": 5}),
        ("search_id", lambda i: {"id": ids[i % len(ids)]}),
        (
            "search_copy",
            lambda i: {"image_base64": b64(jpegs[i % len(jpegs)]), "signal": "duplicate"},
        ),
    ]
    with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=120) as client:
        i = 0
        while time.monotonic() < deadline:
            i += 1
            if i % 4 == 1:
                item = {"id": f"load/{n}/{i}", "base64": b64(jpegs[(n + i) % len(jpegs)])}
                kind, path, body = "insert", "/collections/load/records", {"items": [item]}
            else:
                kind, make = searches[(n + i) % len(searches)]
                path, body = "/collections/load/search", make(i)
            start = time.perf_counter()
            r = client.post(path, json=body)
            took = (time.perf_counter() - start) * 1000
            if r.status_code == 503:  # a copy search refused while others wait: retry later
                time.sleep(float(r.headers.get("retry-after", "1")))
                continue
            if r.status_code != 200:
                raise SystemExit(f"{kind}: {r.status_code} {r.text[:300]}")
            found = re.search(r"search;dur=([\d.]+)", r.headers.get("server-timing", ""))
            out.setdefault(kind, []).append((took, float(found.group(1)) if found else 0.0))


def run(src: Path, seconds: float, model: Path, photos: Path) -> dict[str, dict[str, float]]:
    """One run: a fresh server from ``src``, seeded, then the 20 clients; figures per kind."""
    data = Path(tempfile.mkdtemp(prefix="load-mix-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(src, data, model, port)
    try:
        _wait(url, proc)
        with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=120) as c:
            c.post("/collections", json={"name": "load"}).raise_for_status()
            items = [
                {"id": f"photo/{n}", "base64": b64((photos / f"{n}.jpg").read_bytes())}
                for n in PHOTO_NAMES
            ]
            c.post("/collections/load/records", json={"items": items}).raise_for_status()
        jpegs = [image_bytes(name, side=256) for name in PHOTO_NAMES]
        out: dict[str, list[tuple[float, float]]] = {}
        deadline = time.monotonic() + seconds
        run_clients(CLIENTS, lambda n: _client(url, n, deadline, jpegs, out))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)
    figures = {}
    for kind, rows in out.items():
        total = sorted(r[0] for r in rows)
        server = sorted(r[1] for r in rows)
        figures[kind] = {
            "requests": len(rows),
            "p50": statistics.median(total),
            "p99": _pct(total, 0.99),
            "server p99": _pct(server, 0.99),
        }
    return figures


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="another checkout of lookalike")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="load-mix-files-"))
    model = build_tiny_clip(work / "tiny-clip")
    photos = work / "photos"
    photos.mkdir()
    for name in PHOTO_NAMES:
        photo(name).save(photos / f"{name}.jpg", quality=90)
    sides = [("baseline", args.baseline / "src")] if args.baseline else []
    sides.append(("this", ROOT / "src"))
    results: dict[str, list[dict[str, dict[str, float]]]] = {side: [] for side, _ in sides}
    print("| run | load avg before | kind | requests | p50 ms | p99 ms | server p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for pair in range(1, args.pairs + 1):
        for side, src in sides:
            load = os.getloadavg()[0]
            figures = run(src, args.seconds, model, photos)
            results[side].append(figures)
            for kind in KINDS:
                f = figures.get(kind)
                if f:
                    server = f"{f['server p99']:.0f}" if f["server p99"] else "-"  # inserts
                    print(
                        f"| {pair} {side} | {load:.1f} | {kind} | {f['requests']:.0f} | "
                        f"{f['p50']:.0f} | {f['p99']:.0f} | {server} |"
                    )
    if args.baseline:
        print("\nmedian ratio this / baseline over the pairs:")
        for kind in KINDS:
            parts = []
            for key in ("requests", "p50", "p99"):
                ratios = [
                    now[kind][key] / before[kind][key]
                    for before, now in zip(results["baseline"], results["this"], strict=True)
                    if kind in before and kind in now and before[kind][key]
                ]
                if ratios:
                    parts.append(f"{key} {statistics.median(ratios):.2f}x")
            print(f"  {kind:13} " + ", ".join(parts))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
