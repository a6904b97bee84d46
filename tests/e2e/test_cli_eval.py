"""``lookalike eval`` as a user runs it, on labelled folders of real photos: copies of photos
under transforms grouped per original, and the face test photos grouped per person."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.eval_sets import distractor, transformed_set
from tests.support.faces import FACES
from tests.support.samples import photo

pytestmark = pytest.mark.slow


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    """Five groups of four copies, a distractor (``camera.jpg``, no group), and a group of two
    unrelated photos whose query copies the distractor: it is answered wrong by design."""
    folder = transformed_set(tmp_path / "set")
    distractor(folder)
    mixed = folder / "mixed"
    mixed.mkdir()
    photo("camera").save(mixed / "a.jpg", quality=50)
    photo("retina").save(mixed / "b.jpg", quality=90)
    return folder


def _eval(env: dict[str, str], tmp_path: Path, *args: str) -> str:
    return run(env, "eval", *args, "--work-dir", str(tmp_path / "work")).stdout


def test_eval_prints_the_table_and_writes_the_report(
    env: dict[str, str], tmp_path: Path, labelled: Path
) -> None:
    report = tmp_path / "report.html"
    args = ("--signals", "duplicate", "--top-k", "5", "--report", str(report))
    stdout = _eval(env, tmp_path, str(labelled), *args)
    lines = stdout.splitlines()
    assert "23 images, 6 groups, 6 queries; protocol first; ranked by group, top 5" in lines[0]
    header = lines[1].split("\t")
    assert header[:5] == ["configuration", "queries", "top-1", "top-3", "top-5"]
    row = dict(zip(header, lines[2].split("\t"), strict=True))
    # by hand: the five groups of copies are answered first, the mixed query finds the
    # distractor it copies first: 5 of 6
    assert row["configuration"] == "default" and row["queries"] == "6"
    assert row["top-1"] == f"{100 * 5 / 6:.1f}%"
    # the copy of the distractor scores as a copy does: no threshold tells it apart
    assert "default: no score threshold reaches 99.0% precision on this data" in stdout
    # the failure, with what came instead
    (failed,) = [line.split("\t") for line in lines if line.startswith("mixed\t")]
    assert failed[:3] == ["mixed", "1/1", "mixed/a.jpg"]
    assert failed[4].startswith("camera.jpg [-] 1.00")

    page = report.read_text()
    assert page.count("data:image/png;base64,") == 2  # score distribution, PR curve
    assert "data:image/jpeg;base64," in page  # the failing query's thumbnail
    assert "group mixed: 1 of 1 failed" in page
    assert "--signals duplicate --top-k 5" in page  # the exact command
    assert "qdrant-edge-py" in page and "&quot;signals&quot;" in page  # versions, configuration
    assert "<script" not in page and "src='http" not in page and "<link" not in page


def test_json_shape_and_resume(env: dict[str, str], tmp_path: Path, labelled: Path) -> None:
    args = ("--signals", "duplicate", "--protocol", "split", "--seed", "3", "--json")
    first = json.loads(_eval(env, tmp_path, str(labelled), *args))
    assert first["protocol"] == "split" and first["seed"] == 3
    assert {"images", "groups", "queries", "ks", "versions", "command", "variants"} <= set(first)
    (variant,) = first["variants"]
    assert set(variant["summary"]) == {"queries", "errors", "accuracy", "recall", "map", "mrr"}
    assert set(variant["summary"]["accuracy"]) == {"top1", "top3", "top10"}
    assert variant["threshold"]["threshold"] == 0.75  # the configured copy threshold
    query = variant["queries"][0]
    assert set(query) == {"query", "group", "relevant", "source", "rank", "error", "hits"}
    assert set(query["hits"][0]) == {"id", "score", "relevant", "group", "source"}
    assert variant["resumed"] == 0

    again = json.loads(_eval(env, tmp_path, str(labelled), *args))
    assert again["variants"][0]["resumed"] == first["queries"]
    assert again["variants"][0]["summary"] == variant["summary"]


def test_eval_compares_collections_side_by_side(
    env: dict[str, str], tmp_path: Path, labelled: Path
) -> None:
    run(env, "index", str(labelled), "-c", "a", "--signals", "duplicate", "--group-by-folder")
    shutil.rmtree(labelled / "mixed")
    run(env, "index", str(labelled), "-c", "b", "--signals", "duplicate", "--group-by-folder")
    out = json.loads(_eval(env, tmp_path, "-c", "a", "-c", "b", "--json"))
    assert [v["collection"] for v in out["variants"]] == ["a", "b"]
    assert out["protocol"] == "leave-one-out"
    # by hand: the 20 copies each find another copy of their photo first; in "a", the two
    # mixed photos are queries too, and the one copying the distractor finds it first
    assert [v["summary"]["queries"] for v in out["variants"]] == [22, 20]
    ranks = {q["query"]: q["rank"] for q in out["variants"][0]["queries"]}
    assert ranks["mixed/a.jpg"] != 1
    assert all(rank == 1 for query, rank in ranks.items() if not query.startswith("mixed/"))
    assert out["variants"][1]["summary"]["accuracy"]["top1"] == 1.0


def test_eval_on_faces_grouped_per_person(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "people"
    for name in ("person_a_1", "person_a_2", "person_a_3", "person_b_1"):
        group = folder / name.rsplit("_", 1)[0]
        group.mkdir(parents=True, exist_ok=True)
        shutil.copy(FACES / f"{name}.jpg", group / f"{name}.jpg")
    out = json.loads(
        _eval(
            env,
            tmp_path,
            str(folder),
            "--signals",
            "faces",
            "--protocol",
            "leave-one-out",
            "--json",
        )
    )
    (variant,) = out["variants"]
    assert variant["signal"] == "faces" and variant["summary"]["queries"] == 3
    point = variant["threshold"]
    assert point["threshold"] == 0.8  # the configured face threshold
    hits = [h for q in variant["queries"] for h in q["hits"]]
    true = sum(1 for h in hits if h["score"] >= 0.8 and h["relevant"])
    false = sum(1 for h in hits if h["score"] >= 0.8 and not h["relevant"])
    assert (point["true"], point["false"]) == (true, false)
    assert point["recall"] == pytest.approx(true / 3)
