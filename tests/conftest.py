"""Shared fixtures: real photos, the tiny CLIP-shaped model, settings on a temp data dir, the
server in process, and the one real server of the session for what needs a socket."""

from __future__ import annotations

import compileall
import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from PIL import Image

import lookalike
from lookalike import Engine, Settings
from tests.support.clip_onnx import build_tiny_clip
from tests.support.samples import PHOTO_NAMES, photo
from tests.support.server import WIRE_KEYS, ApiClient, Wire, in_process, live_server

WORKERS = 4
"""Workers of a parallel run of the suite (``-n auto`` in pyproject.toml): its tests wait on
sockets, subprocesses, browsers and timers as much as they compute, so four overlap well even
on two cores."""


def pytest_configure(config: pytest.Config) -> None:
    """Once a run, before any worker starts: compile the package's bytecode when this
    environment says not to write it (``PYTHONDONTWRITEBYTECODE``), so that each of the
    hundreds of Python processes the tests start (the CLI, servers, decode and build children,
    Ray workers) loads it instead of compiling every module again."""
    if sys.dont_write_bytecode and not os.environ.get("PYTEST_XDIST_WORKER"):
        compileall.compile_dir(Path(lookalike.__file__).parent, quiet=1)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: :data:`WORKERS` for the suite or a folder of it; one worker per module for
    a few modules named by path (each module runs whole on one worker); none (a serial run in
    this process) for one module."""
    targets = {Path(arg.split("::")[0]) for arg in config.args}
    if not targets or any(not target.is_file() for target in targets):
        return WORKERS
    return 0 if len(targets) == 1 else min(WORKERS, len(targets))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In a worker of a parallel run: the modules with the most slow tests first, each kept
    whole, so that the workers start on the longest work (each module runs on one worker,
    ``--dist loadfile``, in this order with ``--no-loadscope-reorder``) and none is left alone
    with a long one at the end. A serial run (``-n 0``) keeps pytest's order."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])


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
def api(server_settings: Settings) -> Iterator[ApiClient]:
    """A client of a server serving ``server_settings`` in this process."""
    with in_process(server_settings) as client:
        yield client


@pytest.fixture(scope="session")
def wire(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[Wire]:
    """One real server on localhost for the whole session, for what needs a socket (load,
    third-party clients, the SDK over the wire, the schema checks). It asks for an API key,
    fetches from private addresses (the tests' image servers are on loopback) without
    retrying, and its tests each use collections of their own."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("wire") / "data",
        offline=True,
        default_model=str(tiny_model),
        default_signals=("semantic", "duplicate"),
        decode_workers=1,
        api_keys=WIRE_KEYS,
        allow_private_urls=True,
        fetch_retries=0,  # generated image URLs name hosts that do not exist: fail fast
        fetch_timeout=3.0,
    )
    apps: list[FastAPI] = []
    with live_server(settings, setup=apps.append) as url:
        yield Wire(url, settings, apps[0].state.lookalike.engine)
