"""``lookalike records --sort``: newest first across runs of ``index``, a cursor that goes on
in the same order, and a cursor of another sort (or a forged one) refused in one line that
names ``--cursor``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run
from tests.support.encoded import image_bytes
from tests.support.samples import PHOTO_NAMES


def test_records_sort_newest_first_and_page_on(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "collections", "create", "c", "--signals", "duplicate", "--no-thumbnails")
    for i, name in enumerate(PHOTO_NAMES[:3]):  # three runs: three indexing times
        folder = tmp_path / f"run{i}"
        folder.mkdir()
        (folder / f"{name}.jpg").write_bytes(image_bytes(name, side=200))
        run(env, "index", str(folder), "--collection", "c")
    first = json.loads(
        run(env, "records", "-c", "c", "--sort", "-indexed_at", "--limit", "2", "--json").stdout
    )
    ids = [r["id"] for r in first["records"]]
    assert ids == [f"{PHOTO_NAMES[2]}.jpg", f"{PHOTO_NAMES[1]}.jpg"]
    cursor = first["next_cursor"]
    rest = run(
        env, "records", "-c", "c", "--sort", "-indexed_at", "--cursor", cursor, "--json"
    ).stdout
    assert [r["id"] for r in json.loads(rest)["records"]] == [f"{PHOTO_NAMES[0]}.jpg"]
    oldest = run(env, "records", "-c", "c", "--sort", "indexed_at", "--limit", "1", "--json")
    assert json.loads(oldest.stdout)["records"][0]["id"] == f"{PHOTO_NAMES[0]}.jpg"
    wrong = run(env, "records", "-c", "c", "--sort", "taken_at", "--cursor", cursor, ok=False)
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1
    assert "invalid cursor" in wrong.stderr and "--cursor" in wrong.stderr
    forged = run(env, "records", "-c", "c", "--cursor", "not-a-cursor", ok=False)
    assert forged.returncode == 2 and forged.stderr.count("\n") == 1
    assert "invalid cursor 'not-a-cursor'" in forged.stderr and "--cursor" in forged.stderr
    bad = run(env, "records", "-c", "c", "--sort", "size", ok=False)
    assert bad.returncode == 2 and "unknown sort" in bad.stderr
