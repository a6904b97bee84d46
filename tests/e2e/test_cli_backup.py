"""`lookalike backup` and `lookalike restore`, on the store and through a running server: one
file with a manifest, restored under another name with the same answers; a damaged file is
refused before anything is written."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from tests.support.cli import lines, run
from tests.support.server_process import server_process

pytestmark = pytest.mark.slow


def _ids(env: dict[str, str], collection: str, image: Path) -> list[str]:
    found = lines(run(env, "search", "-c", collection, "--image", str(image), "--json").stdout)
    return [r["id"] for r in found[0]["results"]]


def test_backup_and_restore_on_the_store_and_through_a_server(
    env: dict[str, str], tmp_path: Path, photo_files: Path
) -> None:
    env = {**env, "LOOKALIKE_DECODE_WORKERS": "1"}
    run(env, "index", str(photo_files), "-c", "photos", "--signals", "duplicate")
    count = json.loads(run(env, "collections", "show", "photos").stdout)["count"]
    query = next(photo_files.glob("*.jpg"))
    before = _ids(env, "photos", query)

    file = tmp_path / "photos.backup"
    made = json.loads(run(env, "backup", str(file), "-c", "photos", "--json").stdout)
    assert made["records"] == count and made["bytes"] == file.stat().st_size
    with tarfile.open(file) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(names[0]).read())  # type: ignore[union-attr]
    assert names[0] == "manifest.json"
    assert manifest["records"] == count and manifest["collection"] == "photos"
    assert manifest["config"]["signals"] == ["duplicate"] and manifest["schema_version"]
    assert set(manifest["files"]) == set(names[1:])

    restored = json.loads(run(env, "restore", str(file), "-c", "copy", "--json").stdout)
    assert restored["total"] == count and restored["collection"] == "copy"
    assert _ids(env, "copy", query) == before
    again = run(env, "restore", str(file), "-c", "copy", ok=False)
    assert again.returncode == 4 and "already holds records" in again.stderr

    damaged = tmp_path / "damaged.backup"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    refused = run(env, "restore", str(damaged), "-c", "broken", ok=False)
    assert refused.returncode == 2
    assert "broken" not in json.dumps(run(env, "collections", "list", "--json").stdout)

    # The same while a server holds the data folder: both commands go through its API.
    with server_process(env, tmp_path / "server.log"):
        served = tmp_path / "served.backup"
        via = run(env, "backup", str(served), "-c", "photos")
        assert "through the server at" in via.stderr
        assert f"backed up {count} records" in via.stdout
        back = json.loads(run(env, "restore", str(served), "-c", "second", "--json").stdout)
        assert back["total"] == count
        assert _ids(env, "second", query) == before
