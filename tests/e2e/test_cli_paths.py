"""Paths the CLI cannot use (a data folder that is a file or read-only, a FIFO, an output file
in a missing folder) end the command in one line naming the path, with the documented exit
code, never a traceback nor a hang."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run

pytestmark = pytest.mark.slow


def _one_line(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert done.returncode == code, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    for word in words:
        assert word in done.stderr


def _without_override() -> list[str]:
    """A prefix running a command without root's right to ignore file permissions."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("root, and no setpriv to drop the permission override")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


def _run_unprivileged(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*_without_override(), sys.executable, "-m", "lookalike", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_a_data_folder_that_is_a_file_is_a_wrong_setting(
    env: dict[str, str], tmp_path: Path, photos: Path
) -> None:
    file = tmp_path / "data-file"
    file.write_text("")
    env = {**env, "LOOKALIKE_DATA_DIR": str(file)}
    for args in (["collections", "list"], ["index", str(photos), "--signals", "duplicate"]):
        done = run(env, *args, ok=False)
        _one_line(done, 2, f"setting data_dir = '{file}'", "is a file, not a folder")


def test_a_data_folder_that_cannot_be_made_or_written_is_named(
    env: dict[str, str], tmp_path: Path, photos: Path
) -> None:
    index = ["index", str(photos), "--signals", "duplicate"]
    done = run(env, *index, "-c", "d", "--data-dir", "/proc/nope/x", ok=False)
    _one_line(done, 5, "cannot use /proc/nope: No such file or directory")
    assert "free" not in done.stderr  # not taken for a full disk

    data = Path(env["LOOKALIKE_DATA_DIR"])
    run(env, *index, "-c", "c1")
    lock = data / "collections" / "c1" / "lock"
    folders = [data, data / "collections", lock.parent]
    for folder in folders:
        folder.chmod(0o555)
    lock.chmod(0o444)
    try:
        created = _run_unprivileged(env, "collections", "create", "c2", "--signals", "duplicate")
        _one_line(created, 5, f"cannot use {data / 'collections' / 'c2'}: Permission denied")
        searched = _run_unprivileged(env, "search", "--id", "coffee.jpg", "-c", "c1")
        _one_line(searched, 5, f"cannot use {lock}: Permission denied")
    finally:
        lock.chmod(0o644)
        for folder in folders:
            folder.chmod(0o755)
    (data / "collections" / "c1").chmod(0)
    try:
        listed = _run_unprivileged(env, "collections", "list")
        _one_line(listed, 5, "Permission denied", str(data / "collections" / "c1"))
    finally:
        (data / "collections" / "c1").chmod(stat.S_IRWXU)
    moved = run(env, "migrate", "c1", "--to", "qdrant-local:/proc/x", ok=False)
    _one_line(moved, 5, "cannot use /proc/x: No such file or directory")


def test_an_output_file_that_cannot_be_written_is_refused_up_front(
    env: dict[str, str], tmp_path: Path, photos: Path
) -> None:
    run(env, "index", str(photos), "-c", "d", "--signals", "duplicate")
    missing = tmp_path / "nowhere" / "r.json"
    work = tmp_path / "work"
    for args, name in (
        (["duplicates", "-c", "d", "--report"], "'--report'"),
        (["backup", "-c", "d"], "'file'"),
        (["eval", "-c", "d", "--work-dir", str(work), "--report"], "'--report'"),
    ):
        for path, problem in (
            (missing, f"the folder {missing.parent} of {missing} does not exist"),
            (tmp_path, f"{tmp_path} is a folder: give the file to write"),
            ("", ". is a folder"),
        ):
            done = run(env, *args, str(path), ok=False)
            assert done.returncode == 2, done.stderr
            assert f"Invalid value for {name}: {problem}" in done.stderr
    assert not list(tmp_path.glob("*.partial"))
    assert not work.exists()  # eval refused its report before it evaluated anything


def test_eval_without_matplotlib_is_refused_before_any_work(
    env: dict[str, str], tmp_path: Path
) -> None:
    hidden = tmp_path / "site"  # a matplotlib that fails to import, ahead of the real one
    (hidden / "matplotlib").mkdir(parents=True)
    (hidden / "matplotlib" / "__init__.py").write_text("raise ImportError('not installed')\n")
    shadowed = {**env, "PYTHONPATH": os.pathsep.join([str(hidden), env.get("PYTHONPATH", "")])}
    work = tmp_path / "work"
    report = tmp_path / "report.html"
    done = run(
        shadowed, "eval", str(tmp_path), "--work-dir", str(work), "--report", str(report), ok=False
    )
    _one_line(done, 5, 'pip install "lookalike[eval]"')
    assert not work.exists() and not report.exists()  # refused before it evaluated anything
