"""Free-space reserve for a store's data folder.

Qdrant Edge writes through memory-mapped files: when the disk fills under them the process gets
SIGBUS and dies without a word. Refusing a write while the folder still has a reserve left turns
that into a typed :class:`~lookalike.errors.DiskFull` error; reads keep working, and writes
resume by themselves once space is freed because the check is made anew before each one.
"""

from __future__ import annotations

import os
from pathlib import Path

from lookalike.errors import DiskFull

__all__ = ["FreeSpace"]


class FreeSpace:
    """The check made before each write batch: ``min_free`` bytes must stay free."""

    def __init__(self, folder: Path, min_free: int) -> None:
        self.folder = folder
        self.min_free = min_free

    def free(self) -> int:
        folder = self.folder
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent  # a collection about to be created: its disk is the parent's
        st = os.statvfs(folder)
        return st.f_bavail * st.f_frsize

    def check(self) -> None:
        if self.min_free <= 0:
            return
        free = self.free()
        if free < self.min_free:
            raise DiskFull(
                f"the disk holding {self.folder} has {_mib(free)} free, below the reserve of "
                f"{_mib(self.min_free)} (setting min_free_bytes): nothing more is written. "
                "Free some space, then rerun the same command to resume; everything reported "
                "as indexed is kept",
                detail={"free_bytes": free, "min_free_bytes": self.min_free},
            )


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"
