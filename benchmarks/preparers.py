"""What the decode workers spend on one photo, this version against another, in turns.

Ingest reads, hashes and decodes each photo in its decode workers, and runs there every signal's
preparer (the duplicate signal's hashes, keypoints and words; the semantic signal's copy of the
pixels) and the thumbnail. This times exactly that (``decode_workers.prepare`` with the plan a
collection of the default signals makes) on the ingest benchmark's camera photos, one photo
after another in one process: CPU milliseconds a photo in all, and each stage's wall time as
lookalike's own report counts it. The model is not run: its cost does not depend on the
preparation.

With ``--vs SRC`` (another version's ``src`` folder, e.g. ``git archive COMMIT src | tar -x -C
/tmp/base``) each side runs in its own process, in turns A B A B, and the run prints both
sides' medians and the ratio of each turn.

    python benchmarks/preparers.py [--images 24] [--rounds 3] [--signals semantic,duplicate]
        [--vs /tmp/base/src] [--this /tmp/other/src]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def child(src: Path, images: int, signals: str, repeats: int) -> dict[str, Any]:
    """One side's figures, from lookalike imported out of ``src``."""
    sys.path.insert(0, str(src))
    sys.path.insert(1, str(ROOT))
    from benchmarks.ingest import make_photos, model_folders

    from lookalike.config import Settings
    from lookalike.decode_workers import decode_plan, prepare
    from lookalike.signals import build_signal

    settings = Settings(offline=True)
    model = str(model_folders()[1])
    built = [
        build_signal(name, settings, model=model, semantic_input="direct")
        for name in signals.split(",")
    ]
    plan = decode_plan(built, settings, thumbnails=True)
    photos = sorted(make_photos(images).glob("*.jpg"))[:images]
    blobs = [p.read_bytes() for p in photos]
    for data in blobs[:2]:  # warm-up: imports, first allocations
        prepare(plan, None, data, "photo.jpg")
    cpu: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(repeats):
        started = time.process_time()
        for data in blobs:
            done = prepare(plan, None, data, "photo.jpg")
            for stage, ms in done.timings.items():
                stages.setdefault(stage, []).append(ms)
        cpu.append(1000 * (time.process_time() - started) / len(blobs))
    return {
        "cpu_ms": statistics.median(cpu),
        "stages": {k: statistics.median(v) for k, v in stages.items()},
        "photos": len(blobs),
    }


def run_side(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            str(src),
            "--images",
            str(args.images),
            "--signals",
            args.signals,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3, help="turns of each side")
    parser.add_argument("--signals", default="semantic,duplicate")
    parser.add_argument("--vs", type=Path, help="another version's src folder (the baseline)")
    parser.add_argument("--this", type=Path, default=ROOT / "src", help="the src folder timed")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.images, args.signals, repeats=5)))
        return
    sides = {"this": args.this}
    if args.vs is not None:
        sides["baseline"] = args.vs
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, src in sides.items():
            runs[name].append(found := run_side(src, args))
            print(f"{name}: {found['cpu_ms']:.2f} CPU ms a photo", flush=True)
    print(
        f"\n{runs['this'][0]['photos']} photos, signals {args.signals}, thumbnails kept; "
        "median of each side's turns (each turn: the median of 5 passes)"
    )
    for name, found in runs.items():
        cpu = statistics.median(r["cpu_ms"] for r in found)
        stages = {k: statistics.median(r["stages"][k] for r in found) for k in found[0]["stages"]}
        detail = ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
        print(f"{name:<9} {cpu:6.2f} CPU ms a photo (wall ms by stage: {detail})")
    if "baseline" in runs:
        turns = [
            t["cpu_ms"] / b["cpu_ms"] for t, b in zip(runs["this"], runs["baseline"], strict=True)
        ]
        print(
            f"ratio     {statistics.median(turns):.3f}x the baseline's CPU a photo (turns: "
            + ", ".join(f"{r:.3f}" for r in turns)
            + ")"
        )


if __name__ == "__main__":
    main()
