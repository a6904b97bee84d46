"""Server-side ``path`` items: only files under the configured ``allowed_roots`` may be read.

A remote client names a file on the server's disk, so the check is strict: with no roots every
path is refused; ``..`` and absolute paths are judged after normalising, before the disk is
touched (so the answer tells nothing about files elsewhere); then symlinks are resolved and the
real file must still lie under a root. The resolved path is what gets read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from lookalike.errors import BadInput, ForbiddenPath

__all__ = ["allowed_path"]


def allowed_path(given: str | os.PathLike[str], roots: Sequence[str]) -> Path:
    """The real path of ``given`` (relative paths are relative to the first root), if it is a
    file under one of ``roots``; raises :class:`ForbiddenPath` or :class:`BadInput`."""
    name = os.fspath(given)
    if not roots:
        raise ForbiddenPath(
            f"{name}: server-side paths are refused: this server has no allowed_roots "
            "(set LOOKALIKE_ALLOWED_ROOTS to the folders it may index)"
        )
    as_given = [Path(os.path.abspath(Path(r).expanduser())) for r in roots]
    real_roots = [Path(r).expanduser().resolve() for r in roots]
    target = Path(name)
    if not target.is_absolute():
        target = as_given[0] / target
    lexical = Path(os.path.normpath(target))
    if not any(_under(lexical, r) for r in (*as_given, *real_roots)):
        raise _outside(name)
    try:
        real = lexical.resolve(strict=True)
    except FileNotFoundError:
        raise BadInput(f"{name}: no such file", detail={"path": name}) from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a permission problem
        raise BadInput(f"{name}: cannot be read ({exc})", detail={"path": name}) from None
    if not any(_under(real, r) for r in real_roots):
        raise _outside(name, " (through a symbolic link)")
    if not real.is_file():
        raise BadInput(f"{name}: not a file (give image files, one per item)")
    return real


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _outside(name: str, how: str = "") -> ForbiddenPath:
    return ForbiddenPath(
        f"{name}: outside the folders this server may read{how} (allowed_roots)",
        detail={"path": name},
    )
