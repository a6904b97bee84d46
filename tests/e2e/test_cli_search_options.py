"""``lookalike search`` with a region of the query image and with examples, as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.support.cli import lines, run

pytestmark = pytest.mark.slow


def test_region_like_and_unlike(
    env: dict[str, str], photos: Path, tiny_model: Path, tmp_path: Path
) -> None:
    run(
        env, "index", str(photos), "-c", "pics", "--model", str(tiny_model), "--signals", "semantic"
    )
    left = Image.open(photos / "motorcycle_left.jpg").convert("RGB")
    right = Image.open(photos / "coffee.jpg").convert("RGB").resize(left.size)
    canvas = Image.new("RGB", (left.width * 2, left.height))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    canvas.save(tmp_path / "both.png")
    query = ("search", "-c", "pics", "-i", str(tmp_path / "both.png"), "-k", "1", "--json")
    in_pixels = f"{left.width},0,{left.width},{left.height}"
    assert (
        lines(run(env, *query, "--region", in_pixels).stdout)[0]["results"][0]["id"] == "coffee.jpg"
    )
    as_fractions = lines(run(env, *query, "--region", "0,0,0.5,1").stdout)[0]
    assert as_fractions["results"][0]["id"] == "motorcycle_left.jpg"

    liked = lines(
        run(
            env,
            "search",
            "-c",
            "pics",
            "--like",
            "astronaut.jpg",
            "--like",
            "camera.jpg",
            "--unlike",
            "coffee.jpg",
            "-k",
            "50",
            "--json",
        ).stdout
    )[0]
    ids = [r["id"] for r in liked["results"]]
    assert ids and {"astronaut.jpg", "camera.jpg", "coffee.jpg"}.isdisjoint(ids)
    assert liked["query"].startswith("like ")
    by_id_unlike = lines(
        run(
            env, "search", "-c", "pics", "--id", "rocket.jpg", "--unlike", "coffee.jpg", "--json"
        ).stdout
    )[0]
    assert {"rocket.jpg", "coffee.jpg"}.isdisjoint(r["id"] for r in by_id_unlike["results"])

    for bad in ("1,2,3", "0.6,0,0.5,1", "0,0,-1,5", "a,b,c,d"):
        done = run(env, *query, "--region", bad, ok=False)
        assert done.returncode == 2 and "--region" in done.stderr, (bad, done.stderr)
    missing = run(env, "search", "-c", "pics", "--like", "nope.jpg", ok=False)
    assert missing.returncode != 0 and "nope.jpg" in missing.stderr
