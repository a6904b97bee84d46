"""``lookalike migrate`` and ``--store``: a collection copied to a local-mode store and to
another data folder, then read there."""

from __future__ import annotations

from pathlib import Path

from lookalike.config import Settings
from lookalike.store import open_store
from lookalike.store.base import StoredPoint, VectorSpec
from tests.support.cli import lines, run


def test_migrate_to_local_mode_and_to_another_folder(env: dict[str, str], tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=Path(env["LOOKALIKE_DATA_DIR"]), offline=True), "edge")
    store.create_collection("photos", [VectorSpec("v", 2)], {"signals": [], "model": None})
    with store.open_collection("photos") as coll:
        coll.upsert(
            [StoredPoint(f"r{i}", {"metadata": {"i": i}}, {"v": [1.0, i]}) for i in range(7)]
        )
    local = f"qdrant-local:{tmp_path / 'q'}"
    done = run(env, "migrate", "photos", "--to", local, "--batch-size", "3", "--json")
    report = lines(done.stdout)[0]
    assert report["copied"] == report["total"] == 7 and report["verified"] > 0
    listed = run(env, "--store", local, "collections", "list", "--json")
    assert "photos" in listed.stdout
    refused = run(env, "migrate", "photos", "--to", local, ok=False)
    assert refused.returncode == 4 and "already holds records" in refused.stderr
    backup = tmp_path / "backup"
    done = run(
        env, "migrate", "photos", "--from", local, "--to", "edge", "--to-data-dir", str(backup)
    )
    assert "copied 7 records" in done.stdout
    assert open_store(Settings(data_dir=backup, offline=True), "edge").list_collections() == [
        "photos"
    ]
    unknown = run(env, "--store", "mongodb://x", "collections", "list", ok=False)
    assert unknown.returncode == 2 and "edge" in unknown.stderr
