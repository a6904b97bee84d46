"""Backups through a server: a collection streamed down into one file, and a file streamed up
to be restored; neither is ever held whole in memory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lookalike.backupfile import backup_records
from lookalike.client.plans.common import body_of, coll
from lookalike.client.shapes import from_dict
from lookalike.client.wire import Call, Plan
from lookalike.errors import BadInput
from lookalike.types import BackupReport, MigrationReport


def backup(name: str, file: str | os.PathLike[str]) -> Plan[BackupReport]:
    """As ``Engine.backup``: the file appears under its name only once it is complete."""
    target = Path(file)
    partial = target.with_name(target.name + ".partial")
    try:
        yield Call("GET", f"{coll(name)}/backup", save_to=partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return BackupReport(name, str(target), backup_records(target), target.stat().st_size)


def restore(
    file: str | os.PathLike[str], *, name: str | None = None, overwrite: bool = False
) -> Plan[MigrationReport]:
    """As ``Engine.restore``: the backup uploaded and restored as ``name`` (else the name it
    was taken under). Not sent again after a failure that may have reached the server."""
    path = Path(file)
    if not path.is_file():
        raise BadInput(f"cannot read {file}: no such file")
    params: dict[str, Any] = {"overwrite": str(overwrite).lower()}
    if name is not None:
        params["name"] = name
    call = Call(
        "POST",
        "/collections/restore",
        params=params,
        headers={"content-type": "application/gzip"},
        body_file=path,
    )
    return from_dict(MigrationReport, body_of((yield call)))
