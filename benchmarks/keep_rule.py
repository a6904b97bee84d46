"""Which image a duplicate cluster keeps: the ``original`` rule against ``largest``, same run.

Clusters are built from the real photographs of ``benchmarks/copydays.py``: each photo (the
untransformed original) is indexed with copies of it made by that set's transforms, plus two
that often have more pixels than their original: the issue's rotated, white-bordered copy and
an upscaled one. For each mix of transforms one collection is indexed
(``Collection.index``), then grouped with ``Collection.duplicates(keep=...)`` once per rule.

Metric, per mix: of the clusters holding an original and at least one of its copies, the share
whose kept image is the original. Also counted: clusters that keep a tiny (a quarter of the
original's side or less) or heavily compressed (JPEG quality 15 or lower) copy.

    python benchmarks/keep_rule.py [--photos 40] [--seed 0] [--mixes pairs,geometry,...]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from copydays import TRANSFORMS, apply, normalised_pool  # noqa: E402
from lookalike import Engine, Settings  # noqa: E402

RULES = ("largest", "original")
TINY_OR_COMPRESSED = ("scale25", "jpeg15", "jpeg5")


def _rotated_white_border(im: Image.Image) -> Image.Image:
    """The issue's case: rotated a few degrees with white corners, then framed in white."""
    turned = im.rotate(4, Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    w, h = turned.size
    return ImageOps.expand(turned, (round(0.06 * w), round(0.06 * h)), fill=(255, 255, 255))


def _upscaled(im: Image.Image) -> Image.Image:
    return im.resize((im.width * 3 // 2, im.height * 3 // 2), Image.Resampling.LANCZOS)


EXTRA: dict[str, Callable[[Image.Image], Image.Image]] = {
    "rot4-white-border": _rotated_white_border,
    "upscale150": _upscaled,
}
ALL = (*TRANSFORMS, *EXTRA)
MIXES: dict[str, tuple[str, ...]] = {
    "framed": ("border", "rot10", "screen", "rot4-white-border"),
    "crops": ("crop80", "crop50", "crop30", "strong"),
    "quality": ("jpeg30", "jpeg15", "jpeg5", "scale25", "blur", "gray", "jitter"),
    "same-frame": ("flip", "rot90", "caption", "jitter"),
    "all": ALL,
    "all-but-upscaled": tuple(t for t in ALL if t != "upscale150"),
}
"""Several copies of each original at once; ``pairs`` (each transform alone) is added too."""


def copy_bytes(name: str, im: Image.Image, seed: int, photo: str) -> bytes:
    if name in TRANSFORMS:
        return apply(name, im, seed, photo)
    buf = io.BytesIO()
    EXTRA[name](im).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


@dataclass
class Outcome:
    clusters: int = 0
    kept_original: int = 0
    kept_tiny_or_compressed: int = 0
    seconds: float = 0.0


def run_mix(
    transforms: tuple[str, ...], photos: dict[str, Path], seed: int, work: Path
) -> dict[str, Outcome]:
    folder = work / "-".join(transforms)[:80]
    folder.mkdir(parents=True)
    for photo, path in photos.items():
        (folder / f"{photo}.jpg").write_bytes(path.read_bytes())
        im = Image.open(path).convert("RGB")
        for t in transforms:
            (folder / f"{photo}~{t}.jpg").write_bytes(copy_bytes(t, im, seed, photo))
    out: dict[str, Outcome] = {}
    with Engine(Settings(data_dir=work / (folder.name + "-data"), offline=True)) as engine:
        coll = engine.create_collection("keep", signals="duplicate")
        report = coll.index([folder])
        if report.failed:
            raise SystemExit(f"{len(report.failed)} images failed: {report.failed[0].message}")
        for rule in RULES:
            start = time.perf_counter()
            clusters = coll.duplicates(keep=rule)
            outcome = Outcome(seconds=time.perf_counter() - start)
            for c in clusters:
                ids = {m.id for m in c.members}
                originals = [i for i in ids if "~" not in i]
                if len(originals) != 1:
                    continue  # no original, or two photos merged: not a question of keeping
                if not any(i.startswith(originals[0].removesuffix(".jpg") + "~") for i in ids):
                    continue
                outcome.clusters += 1
                outcome.kept_original += c.keep == originals[0]
                outcome.kept_tiny_or_compressed += any(
                    c.keep.endswith(f"~{t}.jpg") for t in TINY_OR_COMPRESSED
                )
            out[rule] = outcome
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40, help="originals (of the 89 photos)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixes", default="pairs," + ",".join(MIXES))
    args = parser.parse_args()
    pool = normalised_pool()
    names = sorted(pool)
    np.random.default_rng(args.seed).shuffle(names)
    photos = {n: pool[n] for n in sorted(names[: args.photos])}
    chosen = args.mixes.split(",")
    runs: list[tuple[str, tuple[str, ...]]] = []
    if "pairs" in chosen:
        runs += [(t, (t,)) for t in ALL]
    runs += [(m, MIXES[m]) for m in chosen if m in MIXES]
    print(f"{len(photos)} originals; load average {os.getloadavg()[0]:.2f} at the start")
    print(
        f"{'mix':<18} {'n':>4} | {'kept the original':^19} | {'kept tiny/compressed':^20} | s/run"
    )
    print(f"{'':<18} {'':>4} | {'largest':>9} {'original':>9} | {'largest':>9} {'original':>10} |")
    totals = {r: Outcome() for r in RULES}
    with tempfile.TemporaryDirectory(prefix="keep-rule-") as tmp:
        for label, transforms in runs:
            got = run_mix(transforms, photos, args.seed, Path(tmp))
            for r in RULES:
                totals[r].clusters += got[r].clusters
                totals[r].kept_original += got[r].kept_original
                totals[r].kept_tiny_or_compressed += got[r].kept_tiny_or_compressed
            _row(label, got)
    _row("total", totals)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


def _row(label: str, got: dict[str, Outcome]) -> None:
    n = got["largest"].clusters
    share = {r: got[r].kept_original / max(1, got[r].clusters) for r in RULES}
    print(
        f"{label:<18} {n:>4} | {share['largest']:>9.3f} {share['original']:>9.3f} | "
        f"{got['largest'].kept_tiny_or_compressed:>9} {got['original'].kept_tiny_or_compressed:>10}"
        f" | {got['largest'].seconds:5.1f} {got['original'].seconds:5.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
