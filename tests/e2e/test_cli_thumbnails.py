"""``lookalike collections thumbnails``: thumbnails turned on for a collection made without
them, made from the files still there, each problem named, a rerun making only what is left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.encoded import photo_folder
from tests.support.samples import PHOTO_NAMES


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    return photo_folder(tmp_path / "images", 5, side=400)


def test_the_cli_turns_thumbnails_on_and_reports(env: dict[str, str], sources: Path) -> None:
    run(env, "collections", "create", "c", "--signals", "duplicate", "--no-thumbnails")
    run(env, "index", str(sources), "--collection", "c")
    (sources / f"{PHOTO_NAMES[1]}.jpg").unlink()
    done = run(env, "collections", "thumbnails", "c", "--json")
    report = json.loads(done.stdout)
    assert (report["made"], report["source_missing"], report["failed"]) == (4, 1, 0)
    assert "source missing" in done.stderr and PHOTO_NAMES[1] in done.stderr
    shown = json.loads(run(env, "collections", "show", "c").stdout)
    assert shown["thumbnails"] is True
    again = json.loads(run(env, "collections", "thumbnails", "c", "--json").stdout)
    assert (again["made"], again["kept"], again["total"]) == (0, 4, 1)
