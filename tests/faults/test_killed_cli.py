"""Fault: the CLI is killed (kill -9) at random moments of an ingest, three times, then rerun.

Injected: SIGKILL to ``python -m lookalike index`` of 60 generated images, at moments drawn from
a seeded generator (the seed is printed; set ``LOOKALIKE_FAULT_SEED`` to replay a run): the first
may land in start-up (collection creation included); otherwise a kill lands a drawn moment after
the progress bar has reported a drawn number of images done, between what is stored and the
end. Each kill may land in a write, between two batches, or while the store opens. After each
kill, every image the progress bar reported done is in the store; after the final rerun each
image is there exactly once.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike import Engine, Settings
from tests.support.cli import lines, run

IMAGES = 60
KILLS = 3


def _images(folder: Path, seed: int) -> None:
    """Distinct photos-like images: smooth colour fields with a few random shapes."""
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for n in range(IMAGES):
        base = rng.integers(0, 255, (6, 8, 3)).astype("uint8")
        im = Image.fromarray(base).resize((480, 360), Image.Resampling.BICUBIC)
        noise = rng.integers(0, 40, (360, 480, 3)).astype("uint8")
        im = Image.fromarray(np.asarray(im) // 2 + noise)
        im.save(folder / f"img{n:02d}.jpg", quality=85)


def _reported(stderr: str) -> int:
    """The last count of images done that the progress bar showed (``done/total``)."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stderr)  # colours and cursor moves
    found = re.findall(rf"\b(\d+)/{IMAGES}\b", plain)
    return int(found[-1]) if found else 0


def _stored(data_dir: Path) -> list[str]:
    with Engine(Settings(data_dir=data_dir)) as engine:
        if "c" not in engine.list_collections():
            return []
        coll = engine.collection("c")
        ids: list[str] = []
        offset = None
        while True:
            page, offset = coll.list_records(limit=100, offset=offset)
            ids += [r["id"] for r in page]
            if offset is None:
                return ids


def _index(env: dict[str, str], folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "lookalike", "index", str(folder), "-c", "c"]
        + ["--signals", "duplicate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _kill_when(proc: subprocess.Popen[bytes], *, after: float, done_at_least: int) -> str:
    """SIGKILL ``proc`` ``after`` seconds once its progress bar shows ``done_at_least``; all
    that it wrote to stderr before it died."""
    assert proc.stderr is not None
    chunks: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        while True:
            chunk = os.read(proc.stderr.fileno(), 65536)  # what is there, not a full buffer
            if not chunk:
                return
            chunks.append(chunk.decode(errors="replace"))
            if _reported("".join(chunks[-8:])) >= done_at_least:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if done_at_least > 0:
        seen.wait(120)
    time.sleep(after)
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=60)
    reader.join(timeout=60)
    return "".join(chunks)


@pytest.mark.slow
def test_an_ingest_killed_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("LOOKALIKE_FAULT_SEED", random.randrange(2**32)))
    print(f"fault seed {seed} (LOOKALIKE_FAULT_SEED={seed} replays it)")
    rng = random.Random(seed)
    folder, data_dir = tmp_path / "images", tmp_path / "data"
    _images(folder, seed)
    env = {
        **os.environ,
        "LOOKALIKE_DATA_DIR": str(data_dir),
        "LOOKALIKE_OFFLINE": "true",
        "LOOKALIKE_BATCH_SIZE": "4",
        "LOOKALIKE_DECODE_WORKERS": "1",
        # the progress bar draws as on a terminal: what it showed is what the run reported
        "TTY_COMPATIBLE": "1",
        "TTY_INTERACTIVE": "1",
        "COLUMNS": "160",
    }
    kept: list[int] = []
    killed_mid_ingest = 0
    for k in range(KILLS):
        # The first kill may land in start-up (creation included); every kill otherwise lands
        # a drawn moment after the bar passes a drawn count between what is stored and the end,
        # so that each run still has images left to index when it dies.
        stored = kept[-1] if kept else 0
        if k == 0 and rng.random() < 0.5:
            after, done_at_least = rng.uniform(0.0, 1.0), 0
        else:
            after = rng.uniform(0.0, 0.3)
            done_at_least = rng.randint(stored + 1, stored + max(1, (IMAGES - stored) // 2))
        proc = _index(env, folder)
        stderr = _kill_when(proc, after=after, done_at_least=done_at_least)
        assert "Traceback" not in stderr, stderr
        reported = _reported(stderr)
        ids = _stored(data_dir)
        print(
            f"kill {k + 1}: after {after:.2f} s past {done_at_least} done, exit "
            f"{proc.returncode}, reported {reported} done, {len(ids)} stored"
        )
        assert len(ids) == len(set(ids)), "a record is stored twice"
        assert len(ids) >= reported, "an image reported done is missing"
        assert not kept or len(ids) >= kept[-1], "a kill lost records stored before it"
        if proc.returncode == -9 and 0 < len(ids) < IMAGES:
            killed_mid_ingest += 1
        kept.append(len(ids))
    assert killed_mid_ingest >= 1, f"no kill landed mid-ingest (stored: {kept})"

    rerun = lines(
        run(env, "index", str(folder), "-c", "c", "--signals", "duplicate", "--json").stdout
    )[0]
    assert rerun["failed"] == []
    assert rerun["skipped"] == kept[-1] and rerun["indexed"] == IMAGES - kept[-1]
    ids = _stored(data_dir)
    assert len(ids) == IMAGES and len(set(ids)) == IMAGES
    assert {Path(i).name for i in ids} == {p.name for p in folder.iterdir()}
