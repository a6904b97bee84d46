"""The moderation and EXIF signals from the command line: options, summary, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run

pytestmark = pytest.mark.slow


def test_index_with_moderation_and_exif_shows_time_per_signal(
    env: dict[str, str], photos: Path
) -> None:
    created = run(
        env,
        "collections",
        "create",
        "mod",
        "--signals",
        "duplicate,moderation,exif",
        "--on-unsafe",
        "flag",
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["on_unsafe"] == "flag"
    done = run(env, "index", str(photos), "-c", "mod", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[0])
    assert report["indexed"] == len(list(photos.iterdir())) and report["unsafe"] == []
    assert set(report["ms_per_image"]) == {"decode", "duplicate", "moderation", "exif", "write"}
    assert "ms per image: decode" in done.stderr and "moderation" in done.stderr
    clash = run(env, "index", str(photos), "-c", "mod", "--on-unsafe", "reject", ok=False)
    assert clash.returncode == 4 and "on_unsafe" in clash.stderr


def test_moderate_answers_and_exits_1_on_an_unsafe_image(env: dict[str, str], photos: Path) -> None:
    image = str(photos / "astronaut.jpg")
    safe = run(env, "moderate", image, "--json")
    assert safe.returncode == 0, safe.stderr
    verdict = json.loads(safe.stdout)
    assert verdict["image"] == image and verdict["safe"] is True
    assert "FACE_FEMALE" in {d["label"] for d in verdict["labels"]}
    strict = run({**env, "LOOKALIKE_UNSAFE_LABELS": "FACE_FEMALE"}, "moderate", image, ok=False)
    assert strict.returncode == 1 and strict.stdout.startswith("UNSAFE")
    missing = run(env, "moderate", str(photos / "nope.jpg"), ok=False)
    assert missing.returncode == 3 and "nope.jpg" in missing.stderr
