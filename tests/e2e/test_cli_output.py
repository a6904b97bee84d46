"""What the CLI prints: ``records`` pages, ``--json`` everywhere results are printed, tables
that stay one line per row when piped, repeated queries, Pillow's warnings kept out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.support.cli import lines, run

pytestmark = pytest.mark.slow

BROKEN_EXIF = b"Exif\x00\x00MM\x00*\xff\xff\xff\xff garbage"


@pytest.fixture
def catalog(tmp_path: Path, photo_files: Path) -> Path:
    """The photos as a catalog: ids p0..p7, metadata {"n", "kind"} (kind even or odd)."""
    lines_ = []
    for n, photo in enumerate(sorted(photo_files.iterdir())):
        meta = {"n": n, "kind": "odd" if n % 2 else "even", "note": "tab\there"}
        lines_.append(json.dumps({"id": f"p{n}", "path": str(photo), "metadata": meta}))
    path = tmp_path / "catalog.jsonl"
    path.write_text("\n".join(lines_) + "\n", encoding="utf-8")
    return path


def _index(env: dict[str, str], catalog: Path) -> list[str]:
    run(env, "index", str(catalog), "-c", "r", "--signals", "duplicate")
    return [json.loads(line)["id"] for line in catalog.read_text().splitlines()]


def test_records_lists_pages_with_a_filter_and_a_cursor(
    env: dict[str, str],
    catalog: Path,
) -> None:
    ids = _index(env, catalog)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        args = ["records", "-c", "r", "--limit", "3", "--json"]
        page = json.loads(run(env, *args, *(["--cursor", cursor] if cursor else [])).stdout)
        assert len(page["records"]) <= 3
        seen += [r["id"] for r in page["records"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert pages == -(-len(ids) // 3)

    even = json.loads(run(env, "records", "-c", "r", "-f", '{"kind": "even"}', "--json").stdout)
    assert {r["id"] for r in even["records"]} == set(ids[::2])
    assert all(r["metadata"]["kind"] == "even" for r in even["records"])
    assert even["next_cursor"] is None

    human = run(env, "records", "-c", "r", "--limit", "3")
    header, *rows = human.stdout.splitlines()
    assert header.split("\t") == ["id", "source", "group", "metadata"]
    assert len(rows) == 3 and all(len(row.split("\t")) == 4 for row in rows)
    assert json.loads(rows[0].split("\t")[3])["note"] == "tab\there"  # escaped, not split
    assert "more: --cursor" in human.stderr

    too_many = run(env, "records", "-c", "r", "--limit", "5000", ok=False)
    assert too_many.returncode == 2 and "--limit" in too_many.stderr
    missing = run(env, "records", "-c", "nope", ok=False)
    assert missing.returncode == 3 and "nope" in missing.stderr


def test_piped_tables_keep_one_line_per_row(env: dict[str, str], catalog: Path) -> None:
    ids = _index(env, catalog)
    narrow = {**env, "COLUMNS": "30"}
    found = run(narrow, "search", "-c", "r", "--id", ids[0], "-k", "3", "--signal", "duplicate")
    title, header, *rows = found.stdout.splitlines()
    assert title == f"query: {ids[0]}"
    assert header.split("\t")[:3] == ["#", "score", "id"]
    width = len(header.split("\t"))
    assert rows and all(len(row.split("\t")) == width for row in rows)
    assert {row.split("\t")[2] for row in rows} <= set(ids[1:])

    models = run(narrow, "models", "list").stdout.splitlines()
    assert models[0].split("\t") == ["name", "dim", "vision", "scores", "description"]
    listed = json.loads(run(env, "models", "list", "--json").stdout)
    assert [row.split("\t")[0] for row in models[1:]] == [m["name"] for m in listed]
    assert "clip-vit-b-32" in [m["name"] for m in listed]


def test_json_of_delete_and_drop(env: dict[str, str], catalog: Path) -> None:
    ids = _index(env, catalog)
    deleted = run(env, "delete", ids[0], "gone", "-c", "r", "--json", ok=False)
    assert deleted.returncode == 3
    assert json.loads(deleted.stdout) == {"deleted": {ids[0]: True, "gone": False}}
    dropped = run(env, "collections", "drop", "r", "--yes", "--json")
    assert json.loads(dropped.stdout) == {"deleted": "r"}
    assert json.loads(run(env, "collections", "list", "--json").stdout) == []


def test_search_runs_every_repeated_query_and_answers_a_failure_in_json(
    env: dict[str, str],
    catalog: Path,
) -> None:
    ids = _index(env, catalog)
    both = lines(run(env, "search", "-c", "r", "--id", ids[0], "--id", ids[1], "--json").stdout)
    assert [answer["query"] for answer in both] == [ids[0], ids[1]]
    assert all(answer["results"] for answer in both)

    one = run(env, "search", "-c", "r", "--id", "nope", "--json", ok=False)
    assert one.returncode == 3
    (answer,) = lines(one.stdout)
    assert answer["query"] == "nope" and answer["error"]["code"] == "not_found"
    assert one.stderr.count("\n") == 1 and "nope" in one.stderr

    no_coll = run(env, "search", "-c", "missing", "--id", "a", "--id", "b", "--json", ok=False)
    assert no_coll.returncode == 3
    assert [(a["query"], a["error"]["code"]) for a in lines(no_coll.stdout)] == [
        ("a", "not_found"),
        ("b", "not_found"),
    ]


def test_pillow_warnings_stay_out_of_stderr(
    env: dict[str, str],
    tmp_path: Path,
    photo_files: Path,
) -> None:
    folder = tmp_path / "noisy"
    folder.mkdir()
    for n, photo in enumerate(sorted(photo_files.iterdir()) * 2):  # enough for decode workers
        im = Image.open(photo).convert("RGB").resize((96, 64))
        im.save(folder / f"{n}.jpg", exif=BROKEN_EXIF if n % 3 == 0 else b"")
    shutil.copy(folder / "0.jpg", tmp_path / "query.jpg")
    # Over Pillow's own bomb-warning limit (89.5 Mpx), under lookalike's max_pixels.
    Image.new("L", (9500, 9500), 0).save(folder / "big.png")

    indexed = run(env, "index", str(folder), "-c", "w", "--signals", "duplicate", "--json")
    assert json.loads(indexed.stdout)["indexed"] == len(list(folder.iterdir()))
    searched = run(
        env, "search", "-c", "w", "-i", str(tmp_path / "query.jpg"), "--signal", "duplicate"
    )
    for done in (indexed, searched):
        assert "Corrupt EXIF" not in done.stderr
        assert "DecompressionBomb" not in done.stderr
        assert "warnings.warn" not in done.stderr


def test_the_index_summary_tells_a_skipped_copy_from_an_unchanged_image(
    env: dict[str, str], tmp_path: Path, photo_files: Path
) -> None:
    folder = tmp_path / "shots"
    folder.mkdir()
    shutil.copy(photo_files / "coffee.jpg", folder / "a.jpg")
    run(env, "index", str(folder), "-c", "d", "--signals", "duplicate")
    shutil.copy(photo_files / "coffee.jpg", folder / "b.jpg")
    done = run(env, "index", str(folder), "-c", "d", "--on-duplicate", "skip")
    assert "indexed 0, skipped 1 unchanged and 1 as duplicates, updated 0" in done.stderr
    assert f"skip: {folder / 'b.jpg'} copies a.jpg" in done.stderr
