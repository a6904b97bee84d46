"""The CLI run as a user runs it: ``python -m lookalike`` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def run(
    env: dict[str, str], *args: str, input: str | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``lookalike *args``; with ``ok`` it must succeed. It never ends in a traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "lookalike", *args],
        capture_output=True,
        text=True,
        env=env,
        input=input,
        timeout=300,
    )
    if ok:
        assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def lines(text: str) -> list[Any]:
    """The JSON objects of a ``--json`` output, one a line."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
