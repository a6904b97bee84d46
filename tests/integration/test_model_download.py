"""Downloading a known model from a hub, against a hub on localhost (no model hub is reachable
from the machines that test this): the command's progress bar shows the size and the time
left, the files land whole in a plain folder, and the first use of a missing model downloads
it once and loads it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tqdm import tqdm  # type: ignore[import-untyped]

from lookalike import Settings
from lookalike.models import load_image_encoder, load_text_encoder
from tests.support.clip_onnx import build_tiny_clip
from tests.support.fake_hub import FakeHub, fake_hub

VISION_REPO = "Qdrant/clip-ViT-B-32-vision"
TEXT_REPO = "Qdrant/clip-ViT-B-32-text"


@pytest.fixture(scope="module")
def hub_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two towers of a CLIP-shaped model of the real one's vector size (512)."""
    return build_tiny_clip(tmp_path_factory.mktemp("hub") / "clip", dim=512)


@pytest.fixture
def hub(hub_files: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with fake_hub({VISION_REPO: hub_files / "vision", TEXT_REPO: hub_files / "text"}) as served:
        monkeypatch.setenv("HF_ENDPOINT", served.url)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield served


def _same_files(got: Path, want: Path) -> None:
    names = sorted(p.name for p in want.iterdir())
    assert sorted(p.name for p in got.iterdir()) == names
    for name in names:
        assert (got / name).read_bytes() == (want / name).read_bytes(), name


def test_models_download_shows_size_and_time_left(
    hub: FakeHub, hub_files: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "LOOKALIKE_DATA_DIR": str(tmp_path / "data"),
        "LOOKALIKE_OFFLINE": "false",
        "HF_ENDPOINT": hub.url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "lookalike", "models", "download", "clip-vit-b-32"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for repo, part in ((VISION_REPO, "vision"), (TEXT_REPO, "text")):
        total = sum(f.stat().st_size for f in (hub_files / part).iterdir())
        size = tqdm.format_sizeof(total, divisor=1024)
        bar = [
            line
            for line in re.split(r"[\r\n]", done.stderr)
            if f"downloading clip-vit-b-32 {part} tower ({repo})" in line
        ]
        assert bar, done.stderr
        assert f"{size}/{size}" in bar[-1]  # the whole size, reached
        assert re.search(r"\[\d\d:\d\d<\d\d:\d\d, ", bar[-1])  # time taken < time left
        _same_files(tmp_path / "data" / "models" / repo, hub_files / part)
    assert "downloaded clip-vit-b-32 to" in done.stderr
    assert not list((tmp_path / "data").rglob("*.partial"))


def test_first_use_downloads_once_then_loads(hub: FakeHub, hub_files: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", offline=False)
    image = load_image_encoder("clip-vit-b-32", settings)
    assert image.dim == 512
    sent = len(hub.sent)
    assert sent == len(list((hub_files / "vision").iterdir()))
    text = load_text_encoder("clip-vit-b-32", settings)
    assert text.dim == 512
    again = load_image_encoder("clip-vit-b-32", settings)
    assert again.model_id == image.model_id == "clip-vit-b-32"
    assert len(hub.sent) == sent + len(list((hub_files / "text").iterdir()))  # once each


def test_a_file_missing_on_the_hub_fails_naming_it(
    hub_files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lookalike.errors import ModelUnavailable

    empty = tmp_path / "empty"
    empty.mkdir()
    with fake_hub({VISION_REPO: empty}) as served:
        monkeypatch.setenv("HF_ENDPOINT", served.url)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        with pytest.raises(ModelUnavailable, match=r"resolve/main/model\.onnx: HTTP 404"):
            load_image_encoder("clip-vit-b-32", Settings(data_dir=tmp_path / "d", offline=False))
    assert not list((tmp_path / "d").rglob("model.onnx*"))
