"""`lookalike people` and face search from the command line, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import lines, run
from tests.support.faces import face_folder

pytestmark = pytest.mark.slow


def test_people_commands_and_person_search(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    photos = face_folder(tmp_path / "photos", ("person_a_1", "person_a_2", "person_b_1", "coffee"))
    run(env, "index", str(photos), "-c", "f", "--signals", "faces")
    grouped = run(env, "people", "cluster", "-c", "f", "--json")
    assert lines(grouped.stdout)[0]["new_people"] == 2
    people = lines(run(env, "people", "list", "-c", "f", "--json").stdout)[0]
    a = next(p for p in people if p["faces"] == 2)
    named = run(env, "people", "name", "-c", "f", str(a["id"]), "Ada", "--json")
    assert json.loads(named.stdout) == {**a, "name": "Ada"}
    found = lines(run(env, "search", "-c", "f", "--person", "ada", "--json").stdout)[0]
    assert {r["id"] for r in found["results"]} == {"person_a_1.jpg", "person_a_2.jpg"}
    assert all(r["match"]["name"] == "Ada" for r in found["results"])
    table = run(env, "search", "-c", "f", "--signal", "faces", "-i", str(photos / "person_b_1.jpg"))
    assert "person_b_1.jpg" in table.stdout and "#0 [" in table.stdout
    missing = run(env, "search", "-c", "f", "--person", "nobody", ok=False)
    assert missing.returncode == 3 and "no person named 'nobody'" in missing.stderr
    bad_box = run(
        env, "search", "-c", "f", "-i", str(photos / "coffee.jpg"), "--box", "1,2", ok=False
    )
    assert bad_box.returncode == 2 and "--box" in bad_box.stderr

    b = next(p for p in people if p["faces"] == 1)
    merged = json.loads(
        run(env, "people", "merge", "-c", "f", "Ada", str(b["id"]), "--json").stdout
    )
    assert (merged["id"], merged["name"], merged["faces"], merged["records"]) == (
        a["id"],
        "Ada",
        3,
        3,
    )
    split = run(env, "people", "split", "-c", "f", "Ada", "person_b_1.jpg#0", "--json")
    moved = json.loads(split.stdout)
    assert moved["id"] not in (a["id"], b["id"]) and moved["name"] is None
    assert (moved["faces"], moved["sample"]) == (1, ["person_b_1.jpg"])
    assert f"split off as person {moved['id']}" in split.stderr
