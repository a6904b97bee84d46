"""The backup file's manifest, readable without the core (the SDK reads it too).

A backup (:mod:`lookalike.store.backup`) is a gzipped tar whose first member is ``manifest.json``.
"""

from __future__ import annotations

import json
import os
import tarfile
import zlib
from typing import Any

from lookalike.errors import BadInput

__all__ = ["FORMAT", "MANIFEST", "backup_records", "read_manifest"]

FORMAT = 1
MANIFEST = "manifest.json"


def read_manifest(file: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a backup file, checked for its format."""
    try:
        with tarfile.open(file, "r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST:
                raise BadInput(f"{file}: not a lookalike backup (no {MANIFEST} first)")
            raw = tar.extractfile(first)
            manifest: dict[str, Any] = json.loads(raw.read() if raw else b"")
    except (OSError, EOFError, tarfile.TarError, ValueError, zlib.error) as exc:  # truncated too
        raise BadInput(f"{file}: not a readable lookalike backup: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BadInput(
            f"{file}: backup format {manifest.get('format')!r}; this lookalike reads {FORMAT}"
        )
    return manifest


def backup_records(file: str | os.PathLike[str]) -> int:
    """How many records a backup file holds, by its manifest."""
    return int(read_manifest(file).get("records") or 0)
