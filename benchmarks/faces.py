"""What the faces signal costs per image, and what grouping people costs per face.

Per image: decode at the signal's size, detect, align and embed every face, as one decode
worker does it (one core), for each detector setting; over the test portraits, scikit-image's
astronaut, a two-person photo and three photos without faces. Grouping: single-linkage over N
random unit vectors (the all-pairs pass of ``lookalike people cluster --full``).

    python benchmarks/faces.py [--repeat 3] [--cnn] [--faces 20000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from tests.support.faces import face_folder  # noqa: E402

from lookalike.config import Settings  # noqa: E402
from lookalike.images import decode  # noqa: E402
from lookalike.signals.faces import CALIBRATION, MIN_SIDE, FacePreparer  # noqa: E402
from lookalike.signals.faces.people import _components  # noqa: E402

IMAGES = (
    "person_a_1",
    "person_a_2",
    "person_a_3",
    "person_b_1",
    "astronaut",
    "group",
    "chelsea",
    "coffee",
    "rocket",
)


def per_image(folder: Path, preparer: FacePreparer, repeat: int) -> tuple[float, float, int]:
    """Median wall and CPU ms per image (decode included), and the faces found. CPU time is
    what a busy machine does not inflate."""
    data = [(folder / f"{n}.jpg").read_bytes() for n in IMAGES]
    preparer(decode(data[0], min_side=MIN_SIDE))  # load the models first
    wall: list[float] = []
    cpu: list[float] = []
    faces = 0
    for _ in range(repeat):
        faces = 0
        for blob in data:
            start, start_cpu = time.perf_counter(), time.process_time()
            faces += len(preparer(decode(blob, min_side=MIN_SIDE)))
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu), faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cnn", action="store_true", help="also time the CNN detector (slow)")
    parser.add_argument("--faces", type=int, default=20_000, help="faces to group")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = face_folder(Path(tmp), IMAGES)
        settings = [("hog", 0), ("hog", 1)] + ([("cnn", 0)] if args.cnn else [])
        print(f"{len(IMAGES)} images decoded at shorter side {MIN_SIDE}, one core")
        for detector, upsample in settings:
            wall, cpu, found = per_image(folder, FacePreparer(detector, upsample), args.repeat)
            print(
                f"  {detector} upsample {upsample}: median {wall:.0f} ms wall, {cpu:.0f} ms CPU "
                f"per image; {found} faces found"
            )
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.faces, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start, start_cpu = time.perf_counter(), time.process_time()
    _components(vectors, CALIBRATION.inverse(Settings().face_cluster_threshold))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    print(f"grouping {args.faces} faces (all pairs): {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU")


if __name__ == "__main__":
    main()
