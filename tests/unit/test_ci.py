"""CI runs what the README tells a contributor to run, and that includes the checks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"Install and run the tests:\n\n```bash\n(.+)\n```", readme)
    assert found, "the README has no test command"
    return found.group(1)


def test_ci_runs_the_readme_test_command_exactly() -> None:
    command = _readme_test_command()
    steps = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line]
    assert steps[-1] == command


def test_the_test_command_lints_formats_and_type_checks_before_the_tests() -> None:
    steps = _readme_test_command().split(" && ")
    pytest_at = steps.index("python -m pytest")
    for check in ("ruff check src tests benchmarks", "ruff format --check src tests benchmarks"):
        assert steps.index(check) < pytest_at, check
    assert steps.index("mypy") < pytest_at
