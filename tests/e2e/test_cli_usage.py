"""Usage errors of the installed ``lookalike`` command: the usage line and the error, exit 2,
never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _command() -> str:
    """The console script installed next to this interpreter (the one users run)."""
    beside = Path(sys.executable).with_name("lookalike")
    found = str(beside) if beside.exists() else shutil.which("lookalike")
    assert found, "the lookalike command is not installed: pip install -e ."
    return found


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    """The CLI's environment, importing this checkout's package, at 120 columns."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    path = os.environ.get("PYTHONPATH")
    return {**env, "PYTHONPATH": f"{src}{os.pathsep}{path}" if path else src, "COLUMNS": "120"}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [_command(), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


@pytest.mark.parametrize(
    ("args", "usage", "error"),
    [
        (["search", "--bogus"], "Usage: lookalike search", "No such option: --bogus"),
        (["frobnicate"], "Usage: lookalike [OPTIONS] COMMAND", "No such command 'frobnicate'"),
        (["search", "--top-k", "abc", "-t", "x"], "Usage: lookalike search", "'--top-k'"),
        (["search", "--threshold", "high", "-t", "x"], "Usage: lookalike search", "--threshold"),
        (["index"], "Usage: lookalike index", "Missing argument 'paths'"),
        (["get"], "Usage: lookalike get", "Missing argument 'record_id'"),
        (["get", "a", "b"], "Usage: lookalike get", "unexpected extra argument(s) (b)"),
        (["collections", "drop"], "Usage: lookalike collections drop", "Missing argument"),
        (["people", "name", "1"], "Usage: lookalike people name", "Missing argument 'name'"),
        (["models", "nope"], "Usage: lookalike models", "No such command 'nope'"),
        (["serve", "--port", "eighty"], "Usage: lookalike serve", "'--port'"),
        (["index", "x", "--bogus"], "Usage: lookalike index", "No such option: --bogus"),
    ],
)
def test_a_usage_error_shows_the_usage_line_and_the_error_and_exits_2(
    env: dict[str, str], args: list[str], usage: str, error: str
) -> None:
    done = _run(env, *args)
    assert done.returncode == 2, done.stderr
    assert usage in done.stderr
    assert "Error: " in done.stderr and error in done.stderr
    assert "for help" in done.stderr  # the hint to --help
    assert done.stdout == ""


@pytest.mark.parametrize(
    "args", [[], ["models"], ["collections"], ["people"]], ids=["root", "models", "colls", "people"]
)
def test_a_command_group_alone_prints_its_help_and_exits_2(
    env: dict[str, str], args: list[str]
) -> None:
    done = _run(env, *args)
    assert done.returncode == 2
    shown = done.stdout + done.stderr
    assert f"Usage: lookalike {' '.join(args)}".rstrip() in shown
    assert "Commands" in shown


def test_help_exits_0_and_lists_every_command(env: dict[str, str]) -> None:
    done = _run(env, "--help")
    assert done.returncode == 0
    for command in ("index", "search", "duplicates", "collections", "people", "models", "serve"):
        assert command in done.stdout


def test_version_prints_the_installed_version(env: dict[str, str]) -> None:
    done = _run(env, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"lookalike {version('lookalike')}"


def test_a_missing_query_is_a_one_line_usage_error(env: dict[str, str]) -> None:
    done = _run(env, "search", "-c", "nothing")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: give --image, --text, --id, --person or --like"
    ]


def test_shell_completion_completes_commands_and_options(env: dict[str, str]) -> None:
    shown = _run(env, "--show-completion", "bash")
    assert shown.returncode == 0 and "_LOOKALIKE_COMPLETE=complete_bash" in shown.stdout
    ask = {**env, "_LOOKALIKE_COMPLETE": "complete_bash", "COMP_CWORD": "1"}
    commands = _run({**ask, "COMP_WORDS": "lookalike se"})
    assert commands.stdout.split() == ["search", "serve"]
    options = _run({**ask, "COMP_WORDS": "lookalike search --to", "COMP_CWORD": "2"})
    assert options.stdout.split() == ["--top-k"]


def test_install_completion_writes_the_script_for_the_shell(
    env: dict[str, str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    done = _run({**env, "HOME": str(home), "SHELL": "/bin/bash"}, "--install-completion", "bash")
    assert done.returncode == 0, done.stderr
    script = home / ".bash_completions" / "lookalike.sh"
    assert "_LOOKALIKE_COMPLETE=complete_bash" in script.read_text()
    assert str(script.relative_to(home)) in (home / ".bashrc").read_text()
