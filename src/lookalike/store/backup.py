"""A collection as one file, and back: ``lookalike backup`` / ``lookalike restore``.

The file is a gzipped tar holding ``manifest.json`` first (format, lookalike and schema versions,
the collection's name, configuration and record count, and a SHA-256 of every other member) and
then the collection as an embedded (Edge) store folder. Both directions stream through
:func:`lookalike.store.migrate.migrate`, so any backend can be backed up and restored into any
other, with the same batching, retries and verification as a migration: a backup is a migration
into a temporary embedded store that is then packed; a restore checks the manifest and every
checksum, unpacks, and migrates into the target.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any

from lookalike.backupfile import FORMAT, MANIFEST, read_manifest
from lookalike.errors import BadInput
from lookalike.store.base import Store, validate_name
from lookalike.store.migrate import MigrateProgress, migrate
from lookalike.store.schema import VERSION_KEY
from lookalike.types import BackupReport, MigrationReport
from lookalike.version import __version__

_FOLDER = "collection"


def backup(
    store: Store,
    name: str,
    file: str | Path,
    *,
    progress: MigrateProgress | None = None,
) -> BackupReport:
    """Write collection ``name`` of ``store`` to ``file`` (replaced only once complete)."""
    from lookalike.store.edge import EdgeStore

    target = Path(file)
    with tempfile.TemporaryDirectory(prefix="lookalike-backup-", dir=_scratch(target)) as tmp:
        staging = EdgeStore(Path(tmp) / "store", hnsw_threshold=10**12)
        report = migrate(name, store, staging, progress=progress)
        folder = staging.root / name
        collection = staging.open_collection(name)
        try:
            config = collection.config()
        finally:
            collection.close()
        files = {
            f"{_FOLDER}/{p.relative_to(folder).as_posix()}": _sha256(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "lock"
        }
        manifest = {
            "format": FORMAT,
            "lookalike": __version__,
            "schema_version": config.get(VERSION_KEY),
            "collection": name,
            "records": report.total,
            "config": {k: v for k, v in config.items() if k != "migration"},
            "files": files,
        }
        partial = target.with_name(target.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1, default=str).encode())
            for member in files:
                tar.add(folder / member.removeprefix(f"{_FOLDER}/"), arcname=member)
        partial.replace(target)
    return BackupReport(name, str(target), report.total, target.stat().st_size)


def restore(
    file: str | Path,
    store: Store,
    *,
    name: str | None = None,
    overwrite: bool = False,
    progress: MigrateProgress | None = None,
) -> MigrationReport:
    """Restore a backup into ``store``, as ``name`` (default: the name it was backed up as).

    Every member is checked against the manifest's checksums before anything is written; the
    copy is then verified like a migration (counts and a random sample)."""
    from lookalike.store.edge import EdgeStore

    manifest = read_manifest(file)
    original = validate_name(str(manifest["collection"]))
    name = validate_name(name or original)
    with tempfile.TemporaryDirectory(prefix="lookalike-restore-") as tmp:
        staging_root = Path(tmp) / "store"
        folder = staging_root / "collections" / name
        _unpack(file, manifest, folder)
        staging = EdgeStore(staging_root, hnsw_threshold=10**12)
        if name != original:
            collection = staging.open_collection(name)
            try:
                if "name" in collection.config():
                    collection.update_config({"name": name})
            finally:
                collection.close()
        report = migrate(name, staging, store, overwrite=overwrite, progress=progress)
    if report.total != manifest.get("records"):
        raise BadInput(
            f"{file}: the backup holds {report.total} records, its manifest says "
            f"{manifest.get('records')}"
        )
    return report


def _unpack(file: str | Path, manifest: dict[str, Any], folder: Path) -> None:
    try:
        _unpack_checked(file, manifest, folder)
    except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        raise BadInput(f"{file}: damaged backup, nothing restored ({exc})") from None


def _unpack_checked(file: str | Path, manifest: dict[str, Any], folder: Path) -> None:
    expected: dict[str, str] = dict(manifest.get("files") or {})
    seen: set[str] = set()
    folder.mkdir(parents=True)
    with tarfile.open(file, "r:gz") as tar:
        for member in tar:
            if member.name == MANIFEST:
                continue
            if member.name not in expected or not member.isfile():
                raise BadInput(f"{file}: unexpected member {member.name!r}")
            relative = member.name.removeprefix(f"{_FOLDER}/")
            out = folder / relative
            if folder.resolve() not in out.resolve().parents:
                raise BadInput(f"{file}: member {member.name!r} leaves the backup")
            out.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                raise BadInput(f"{file}: member {member.name!r} cannot be read")
            digest = hashlib.sha256()
            with open(out, "wb") as fh:
                while chunk := source.read(1 << 20):
                    digest.update(chunk)
                    fh.write(chunk)
            if digest.hexdigest() != expected[member.name]:
                raise BadInput(f"{file}: {member.name} does not match its checksum: damaged")
            seen.add(member.name)
    missing = set(expected) - seen
    if missing:
        raise BadInput(f"{file}: {len(missing)} member(s) missing, e.g. {sorted(missing)[0]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io
    import time

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _scratch(target: Path) -> str | None:
    """Stage next to the backup file when its folder exists (same disk), else the temp dir."""
    parent = target.parent if str(target.parent) else Path(".")
    return str(parent) if parent.is_dir() and shutil.disk_usage(parent) else None
