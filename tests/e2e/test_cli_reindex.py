"""``lookalike reindex`` and ``lookalike collections alias`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import lines, run


def test_alias_then_reindex_from_the_command_line(
    env: dict[str, str], photos: Path, tiny_model: Path
) -> None:
    run(env, "index", str(photos), "-c", "pics", "--model", str(tiny_model))
    n = len(list(photos.iterdir()))
    run(env, "collections", "create", "spare", "--signals", "duplicate")
    assert run(env, "collections", "alias", "shop", "pics").returncode == 0
    assert run(env, "collections", "list").stdout.splitlines() == ["pics", "spare", "shop -> pics"]
    assert json.loads(run(env, "collections", "aliases", "--json").stdout) == {"shop": "pics"}
    found = lines(run(env, "search", "-c", "shop", "--text", "a cat", "--json").stdout)[0]
    assert len(found["results"]) == n

    taken = run(env, "collections", "alias", "spare", "pics", ok=False)
    assert taken.returncode == 4 and "collection's name" in taken.stderr
    missing = run(env, "collections", "alias", "x", "nope", ok=False)
    assert missing.returncode == 3
    both = run(env, "collections", "alias", "shop", ok=False)
    assert both.returncode == 2

    (photos / sorted(p.name for p in photos.iterdir())[0]).unlink()
    done = run(env, "reindex", "-c", "pics", "--signals", "semantic,duplicate", "--json")
    report = json.loads(done.stdout)
    assert (report["name"], report["previous"], report["current"]) == (
        "pics",
        "pics@v1",
        "pics@v2",
    )
    assert report["indexed"] == n - 1 and len(report["missing"]) == 1
    assert "missing " in done.stderr  # the record left behind, named on stderr
    listed = run(env, "collections", "list").stdout.splitlines()
    assert listed == ["pics@v1", "pics@v2", "spare", "pics -> pics@v2", "shop -> pics@v1"]
    shown = json.loads(run(env, "collections", "show", "pics").stdout)
    assert shown["name"] == "pics@v2" and shown["count"] == n - 1
    run(env, "collections", "alias", "shop", "--remove")
    assert json.loads(run(env, "collections", "aliases", "--json").stdout) == {"pics": "pics@v2"}
