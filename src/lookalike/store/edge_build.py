"""Build a shard's HNSW index in a child process, so the process that serves it keeps answering.

qdrant-edge-py holds Python's global interpreter lock while ``EdgeShard.optimize`` runs (minutes
for a million points): in the server every request thread, ``/health`` included, would stop for
that long. So the build runs on a copy of the shard in a child process, while this process keeps
searching the original; writes wait until the copy replaces the original. A failed or killed child
leaves the original untouched.

Run as ``python -m lookalike.store.edge_build SHARD_DIR``: it optimizes the shard there and
prints ``built`` or ``unchanged``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from lookalike.errors import StoreUnavailable

__all__ = ["copy_shard", "optimize_in_child", "read_ahead", "write_back"]


def copy_shard(source: Path, target: Path) -> None:
    """A copy of a flushed shard folder; holes in its preallocated log files stay holes where
    the file system allows (``copy_file_range``)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, copy_function=shutil.copy2)


def optimize_in_child(shard_dir: Path) -> bool:
    """Optimize the shard at ``shard_dir`` in a child process; True if an index was built."""
    done = subprocess.run(
        [sys.executable, "-m", "lookalike.store.edge_build", str(shard_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise StoreUnavailable(
            f"the index build of {shard_dir} failed (exit status {done.returncode}): "
            + " | ".join(tail)
        )
    return done.stdout.strip().endswith("built")


def write_back(folder: Path) -> None:
    """Write a shard's dirty pages to disk without holding the interpreter lock.

    Closing a shard flushes it (``msync`` and ``fsync`` of each of its files) while holding the
    lock: after an ingest that is every page written since the last flush, 0.3 s of silence for
    12,000 points. ``os.fsync`` lets the lock go, so after it the close finds clean pages."""
    for path in sorted(folder.rglob("*")):
        try:
            if not path.is_file():
                continue
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def read_ahead(folder: Path) -> None:
    """Bring into the page cache, without holding the interpreter lock, what loading the shard at
    ``folder`` reads while holding it.

    The load maps the files of the segments' in-memory parts and faults them in (``madvise``
    populate), under the lock; the build child's close has just dropped them from the page
    cache, so that read went to the disk: reading them first halved the load (143 ms to 81 ms
    at 12,000 points). Left out: what the load does not read (the payload storage, kept on
    disk; the vectors of a segment that keeps them on disk)."""
    buffer = bytearray(1 << 20)
    for segment in [folder, *sorted((folder / "segments").glob("*"))]:
        on_disk_vectors = segment != folder and not _vectors_in_ram(segment)
        files = segment.glob("wal/*") if segment == folder else segment.rglob("*")
        for path in sorted(files):
            relative = path.relative_to(segment).parts
            if not path.is_file() or relative[0] == "payload_storage":
                continue
            if (
                on_disk_vectors
                and relative[0].startswith("vector_storage")
                and (path.name == "matrix.dat" or path.name.startswith("chunk_"))
            ):
                continue
            try:
                with open(path, "rb", buffering=0) as fh:
                    while fh.readinto(buffer):
                        pass
            except OSError:
                continue


def _vectors_in_ram(segment: Path) -> bool:
    """Whether every dense vector storage of a segment is kept in memory (``InRam...``)."""
    try:
        config = json.loads((segment / "segment.json").read_text())["config"]["vector_data"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all("InRam" in str(v.get("storage_type", "")) for v in config.values())


def _die_with_parent() -> None:
    """Linux: end this build when the process that asked for it dies (kill -9 included), so no
    orphan keeps writing a copy that the next open deletes. The build holds the interpreter lock,
    so a watching thread could not do this."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _yield_the_cpu() -> None:
    """Give the serving process the CPU first: the build's threads run at the lowest priority
    (nice 19, the batch scheduler), so request threads are not slowed by a build using every
    core, and the build takes what they leave."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    with contextlib.suppress(OSError):
        os.nice(19)


def _main(shard_dir: str) -> None:
    import qdrant_edge as qe

    _die_with_parent()
    _yield_the_cpu()

    shard = qe.EdgeShard.load(shard_dir)
    try:
        built = bool(shard.optimize())
        shard.flush()
        if built:
            _settle_log(shard, qe)
    finally:
        shard.close()
    print("built" if built else "unchanged")


def _settle_log(shard: Any, qe: Any) -> None:
    """Leave the copy's write-ahead log with only a tiny write left to replay.

    The serving process loads the built copy while holding the interpreter lock, and replaying
    the log's last unacknowledged write (an ingest batch: 2000 points of 256 floats took 0.15 s
    of a 0.3 s load) is most of that pause. A flush acknowledges the log up to the write before
    the last one, so two tiny writes are made with a flush after each: the batch is then
    acknowledged and the load replays one small write. In the first shard the configuration
    point is rewritten as it is; the others have none, so a marker point is written and
    deleted."""
    from lookalike.store.base import META_ID, point_id

    meta = point_id(META_ID)
    found = shard.retrieve([meta], True, False)
    if found:
        point = qe.Point(meta, {}, dict(found[0].payload or {}))
        writes = [qe.UpdateOperation.upsert_points([point])] * 2
    else:
        marker = point_id(_MARKER)
        writes = [
            qe.UpdateOperation.upsert_points([qe.Point(marker, {}, {})]),
            qe.UpdateOperation.delete_points([marker]),
        ]
    for op in writes:
        shard.update(op)
        shard.flush()


_MARKER = "__lookalike_build_marker__"


if __name__ == "__main__":
    _main(sys.argv[1])
