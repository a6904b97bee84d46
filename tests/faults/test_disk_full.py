"""Fault: the disk under the data folder fills up.

Injected: a small tmpfs holds the data folder, and a filler file takes its free space below the
``min_free_bytes`` reserve. Without the reserve, Qdrant Edge's memory-mapped writes would hit the
full disk and the process would die of SIGBUS without a word.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.cli import lines, run

MIB = 2**20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("this fault test mounts a tmpfs and needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _photos(folder: Path, names: list[str]) -> None:
    folder.mkdir()
    rng = np.random.default_rng(len(names) + len(str(folder)))
    for name in names:
        pixels = (rng.random((240, 320, 3)) * 255).astype("uint8")
        Image.fromarray(pixels).save(folder / name, quality=90)


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@pytest.mark.slow
def test_a_full_disk_refuses_writes_keeps_reads_and_recovers(
    small_disk: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _photos(first, ["a.jpg", "b.jpg", "c.jpg"])
    _photos(second, ["d.jpg", "e.jpg", "f.jpg"])
    env = {
        **os.environ,
        "LOOKALIKE_DATA_DIR": str(small_disk / "data"),
        "LOOKALIKE_MIN_FREE_BYTES": str(128 * MIB),
        "LOOKALIKE_DECODE_WORKERS": "1",
    }
    run(env, "index", str(first), "-c", "c", "--signals", "duplicate")

    filler = small_disk / "filler"
    with open(filler, "wb") as fh:
        fh.write(b"\0" * (_free(small_disk) - 80 * MIB))
    assert _free(small_disk) < 128 * MIB

    full = run(env, "index", str(second), "-c", "c", "--signals", "duplicate", ok=False)
    assert full.returncode == 5, full.stderr
    assert "below the reserve" in full.stderr and "rerun the same command" in full.stderr

    # Reads keep working while the disk is full.
    assert json.loads(run(env, "collections", "show", "c").stdout)["count"] == 3
    hits = lines(run(env, "search", "-c", "c", "--image", str(first / "a.jpg"), "--json").stdout)
    assert hits and hits[0]["results"][0]["id"] == "a.jpg"

    filler.unlink()
    done = run(env, "index", str(second), "-c", "c", "--signals", "duplicate", "--json")
    assert "Traceback" not in done.stderr
    assert json.loads(run(env, "collections", "show", "c").stdout)["count"] == 6
