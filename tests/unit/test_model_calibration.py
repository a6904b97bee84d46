"""Each semantic model scores with its own calibration; a model whose range was not measured
scores by its raw cosine and says so, never borrowing another model's knots."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lookalike.config import Settings
from lookalike.models.specs import CLIP_B32_IMAGE, CLIP_B32_TEXT, MODELS
from lookalike.signals.semantic import UNCALIBRATED, SemanticSignal


def test_clip_scores_with_its_measured_knots() -> None:
    signal = SemanticSignal("clip-vit-b-32", Settings())
    assert signal.calibration == CLIP_B32_IMAGE and signal.text_calibration == CLIP_B32_TEXT
    assert MODELS["clip-vit-b-32"].calibrated


@pytest.mark.parametrize("name", [n for n, s in MODELS.items() if not s.calibrated])
def test_an_unmeasured_model_scores_by_raw_cosine(name: str) -> None:
    signal = SemanticSignal(name, Settings())
    for calibration in (signal.calibration, signal.text_calibration):
        assert calibration is UNCALIBRATED
        assert calibration(0.42) == pytest.approx(0.42) and calibration(-0.3) == 0.0


def test_no_model_lends_its_knots_to_another() -> None:
    knots = [s.image_calibration for s in MODELS.values() if s.image_calibration is not None]
    assert len(knots) == len({id(k) for k in knots})
    assert any(not s.calibrated for s in MODELS.values())  # SigLIP 2, Jina, Nomic: unmeasured


def test_a_model_folder_scores_by_raw_cosine(tmp_path: Path) -> None:
    signal = SemanticSignal(str(tmp_path), Settings())
    assert signal.calibration is UNCALIBRATED and signal.text_calibration is UNCALIBRATED


def test_models_list_says_which_models_are_calibrated() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src"), "COLUMNS": "400"}
    done = subprocess.run(
        [sys.executable, "-m", "lookalike", "models", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    rows = {line.split()[0]: line for line in done.stdout.splitlines()}
    for name, spec in MODELS.items():
        assert ("range not measured" in rows[name]) is not spec.calibrated, rows[name]
