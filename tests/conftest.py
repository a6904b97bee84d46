"""Shared fixtures: real photos, the tiny CLIP-shaped model, settings on a temp data dir."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from lookalike import Engine, Settings
from tests.support.clip_onnx import build_tiny_clip
from tests.support.samples import PHOTO_NAMES, photo
from tests.support.server import live_server


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CLIP-shaped model folder (vision/ + text/), loaded like the real one."""
    return build_tiny_clip(tmp_path_factory.mktemp("model") / "tiny-clip")


@pytest.fixture(scope="session")
def photo_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real photographs (scikit-image samples) as JPEG files, built once."""
    folder = tmp_path_factory.mktemp("photos-master")
    for name in PHOTO_NAMES:
        photo(name).save(folder / f"{name}.jpg", quality=90)
    return folder


@pytest.fixture
def photos(tmp_path: Path, photo_files: Path) -> Path:
    """A writable copy of the photo folder, for tests that change it."""
    folder = tmp_path / "photos"
    shutil.copytree(photo_files, folder)
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", offline=True, allow_private_urls=False)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    with Engine(settings) as e:
        yield e


def save_variant(
    src: Path, dst: Path, *, size: tuple[int, int] | None = None, quality: int = 60
) -> Path:
    im = Image.open(src).convert("RGB")
    if size:
        im = im.resize(size)
    im.save(dst, quality=quality)
    return dst


@pytest.fixture
def server_settings(tmp_path: Path, tiny_model: Path) -> Settings:
    """A server's settings: a temp data dir, the tiny model as the default, offline."""
    return Settings(
        data_dir=tmp_path / "server-data",
        offline=True,
        default_model=str(tiny_model),
        default_signals=("semantic", "duplicate"),
        decode_workers=1,
    )


@pytest.fixture
def live_url(server_settings: Settings) -> Iterator[str]:
    """Base URL of a real server on localhost, serving ``server_settings``."""
    with live_server(server_settings) as url:
        yield url
