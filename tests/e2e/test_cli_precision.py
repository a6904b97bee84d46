"""``--precision`` of ``collections create`` and ``index``: recorded, and never mixed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli import run

pytestmark = pytest.mark.slow


def test_precision_option_of_create_and_index(
    env: dict[str, str], photos: Path, tiny_model: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    made = json.loads(
        run(env, "collections", "create", "q", "--model", str(model), "--precision", "int8").stdout
    )
    assert made["precision"] == "int8" and made["model_id"].endswith("@int8")

    out = run(env, "index", str(photos), "-c", "q", "--precision", "int8", "--json")
    assert json.loads(out.stdout)["indexed"] > 0
    hits = json.loads(run(env, "search", "-c", "q", "--text", "a cat", "--json").stdout)
    assert hits

    run(env, "index", str(photos), "-c", "f", "--model", str(model), "--signals", "semantic")
    refused = run(env, "index", str(photos), "-c", "f", "--precision", "int8", ok=False)
    assert refused.returncode == 4
    assert "fp32, not int8" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    wrong = run(env, "collections", "create", "w", "--precision", "int4", ok=False)
    assert wrong.returncode == 2 and "precision" in wrong.stderr
