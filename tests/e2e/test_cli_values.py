"""Option values the CLI refuses before any work, with exit status 2, as ``search`` refuses
its own: a threshold off the score scale, a top k of 0, an empty path, a server that is no
http(s) URL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run

pytestmark = pytest.mark.slow


@pytest.fixture
def indexed(env: dict[str, str], photos: Path) -> dict[str, str]:
    """The environment, with the photos (and a copy of one) in collection ``d``."""
    (photos / "copy.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    run(env, "index", str(photos), "-c", "d", "--signals", "duplicate")
    return env


@pytest.mark.parametrize("threshold", ["5", "-1", "nan"])
def test_a_duplicates_threshold_off_the_scale_is_refused_and_deletes_nothing(
    indexed: dict[str, str], threshold: str
) -> None:
    done = run(
        indexed, "duplicates", "-c", "d", "--threshold", threshold, "--delete-copies", "-y",
        ok=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"error: threshold is a score between 0 and 1, not {float(threshold)}\n"
    page = json.loads(run(indexed, "records", "-c", "d", "--json").stdout)
    assert {"copy.jpg", "coffee.jpg"} <= {r["id"] for r in page["records"]}


def test_an_unknown_keep_rule_is_refused_before_grouping_and_deletes_nothing(
    indexed: dict[str, str],
) -> None:
    done = run(
        indexed, "duplicates", "-c", "d", "--keep", "nonsense", "--delete-copies", "-y", ok=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: unknown keep rule 'nonsense': use original, largest")
    assert "grouping" not in done.stdout + done.stderr  # no progress bar went before it
    page = json.loads(run(indexed, "records", "-c", "d", "--json").stdout)
    assert {"copy.jpg", "coffee.jpg"} <= {r["id"] for r in page["records"]}


def test_eval_refuses_a_top_k_of_0_and_a_target_precision_off_the_scale_up_front(
    indexed: dict[str, str], tmp_path: Path, photos: Path
) -> None:
    work = tmp_path / "work"
    top0 = run(indexed, "eval", "-c", "d", "--top-k", "0", "--work-dir", str(work), ok=False)
    assert top0.returncode == 2
    assert top0.stderr == "error: top_k must be between 1 and 1000, not 0\n"
    labelled = tmp_path / "set"
    for group, names in {"a": ["coffee", "copy"], "b": ["rocket", "chelsea"]}.items():
        (labelled / group).mkdir(parents=True)
        for name in names:
            (labelled / group / f"{name}.jpg").write_bytes((photos / f"{name}.jpg").read_bytes())
    args = ["eval", str(labelled), "--signals", "duplicate", "--work-dir", str(work)]
    wrong = run(indexed, *args, "--target-precision", "5", ok=False)
    assert wrong.returncode == 2
    assert wrong.stderr == "error: target_precision must be in (0, 1], not 5.0\n"
    assert not list(work.glob("collections/collections/*"))  # nothing was indexed


def test_index_refuses_a_ray_address_of_no_known_form_before_making_the_collection(
    env: dict[str, str], photos: Path
) -> None:
    args = ["index", str(photos), "-c", "o", "--signals", "duplicate", "--ray"]
    alone = run(env, *args, ok=False)
    assert alone.returncode == 2 and "Option '--ray' requires an argument" in alone.stderr
    typo = run(env, *args, "bogus:port", ok=False)
    assert typo.returncode == 2
    assert typo.stderr == (
        "error: Ray address 'bogus:port': give local, auto, host:port or ray://host:port\n"
    )
    assert run(env, "collections", "list", "--json").stdout == "[]\n"


def test_index_refuses_an_empty_path_rather_than_walking_the_current_folder(
    env: dict[str, str], photos: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lookalike", "index", "", "-c", "e", "--signals", "duplicate"],
        capture_output=True,
        text=True,
        env=env,
        cwd=photos,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Invalid value for 'paths': an empty path: give a folder, a file or a URL" in done.stderr
    assert run(env, "collections", "list", "--json").stdout == "[]\n"


def test_alias_remove_with_a_target_and_moderate_json_errors_say_what_is_wrong(
    indexed: dict[str, str], photos: Path
) -> None:
    both = run(indexed, "collections", "alias", "a1", "d", "--remove", ok=False)
    assert both.returncode == 2
    assert both.stderr == "error: --remove removes alias 'a1': give it without TARGET (d)\n"
    unknown = run(indexed, "models", "download", "bogus-model", ok=False)
    assert unknown.returncode == 2 and "not a known model" in unknown.stderr
    missing = str(photos / "nope.jpg")
    done = run(indexed, "moderate", "--json", missing, str(photos / "coffee.jpg"), ok=False)
    failed = json.loads(done.stdout.splitlines()[0])
    assert failed["image"] == missing and failed["error"]["code"] == "not_found"
    assert "query" not in failed
