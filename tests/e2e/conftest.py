"""End-to-end fixtures: the CLI's environment on a temp data dir; for the page tests, Debian's
Chromium through Playwright, one browser per module, a fresh context per test, screenshots in
test-artifacts/screenshots/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from lookalike.config import Settings
from tests.support.encoded import file_b64
from tests.support.server import live_server

CHROMIUM = Path("/usr/bin/chromium")
# A busy CI machine can take more than expect's 5 s default to answer a search: wait as long
# as the page's own actions do (a real failure still fails, only later).
expect.set_options(timeout=30_000)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "tests" / "e2e" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a ``lookalike`` subprocess: a temp data dir, offline, wide output."""
    return {
        **os.environ,
        "LOOKALIKE_DATA_DIR": str(tmp_path / "data"),
        "LOOKALIKE_OFFLINE": "true",
        "COLUMNS": "200",
    }


@pytest.fixture(scope="module")
def shots(request: pytest.FixtureRequest) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"page screenshots: {SHOTS}")
    return SHOTS


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the page tests need it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"the page raised: {errors}"


EXAMPLES = ROOT / "examples" / "photos"
LIVING = {"astronaut", "chelsea", "camera"}  # test metadata: a field to filter on


@dataclass
class Site:
    url: str
    api: httpx.Client
    photos: Path


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, photo_files: Path
) -> Iterator[Site]:
    """A server with a `photos` collection (thumbnails on), filled through the REST API."""
    photos = tmp_path_factory.mktemp("page-photos")
    for f in photo_files.iterdir():
        shutil.copy(f, photos / f.name)
    shutil.copy(EXAMPLES / "astronaut-copy.jpg", photos / "astronaut-copy.jpg")
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("page-server"),
        offline=True,
        default_model=str(tiny_model),
        default_signals=("semantic", "duplicate"),
        decode_workers=1,
    )
    with live_server(settings) as url, httpx.Client(base_url=url, timeout=120) as api:
        api.post("/collections", json={"name": "photos", "thumbnails": True}).raise_for_status()
        items = [
            {
                "id": f.name,
                "base64": file_b64(f),
                "metadata": {
                    "subject": "living" if f.stem in LIVING else "object",
                    "bytes": f.stat().st_size,
                },
            }
            for f in sorted(photos.glob("*.jpg"))
        ]
        api.post("/collections/photos/records", json={"items": items}).raise_for_status()
        assert api.get("/collections/photos/count").json()["count"] == len(items)
        yield Site(url, api, photos)
