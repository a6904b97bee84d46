"""The CLI beside a running server: `lookalike serve` as a real process, then the usual commands
on the same data folder go through its API (found by its server.json, or named by --server),
and answer as they do on the store itself once the server has stopped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import lines, run
from tests.support.faces import face_folder
from tests.support.server import free_port

pytestmark = pytest.mark.slow

VIA = "through the server at"


@pytest.fixture
def env(env: dict[str, str], tiny_model: Path) -> dict[str, str]:
    """The CLI's environment with the tiny model as the default, for the server and the CLI."""
    return {**env, "LOOKALIKE_DEFAULT_MODEL": str(tiny_model), "LOOKALIKE_DECODE_WORKERS": "1"}


@pytest.fixture
def served(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`lookalike serve` on a free port; yields its URL and process."""
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "lookalike", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    marker = Path(env["LOOKALIKE_DATA_DIR"]) / "server.json"
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, (tmp_path / "server.log").read_text()
        assert time.monotonic() < deadline, "the server did not start"
        try:
            if httpx.get(f"{url}/health").status_code == 200 and marker.exists():
                break
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    try:
        yield url, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        log.close()


def test_commands_go_through_the_running_server(
    env: dict[str, str],
    served: tuple[str, subprocess.Popen[bytes]],
    photos: Path,
    tmp_path: Path,
) -> None:
    url, server = served
    n = len(list(photos.iterdir()))
    first = run(env, "index", str(photos), "-c", "pics", "--json")
    assert f"{VIA} {url}" in first.stderr and "server.json" in first.stderr
    report = lines(first.stdout)[0]
    assert (report["indexed"], report["failed"]) == (n, [])

    deleted = run(env, "delete", "rocket.jpg", "camera.jpg", "-c", "pics")
    assert "deleted: rocket.jpg" in deleted.stderr
    gone = run(env, "get", "rocket.jpg", "-c", "pics", ok=False)
    assert gone.returncode == 3 and "rocket.jpg" in gone.stderr
    got = json.loads(run(env, "get", "chelsea.jpg", "-c", "pics").stdout)
    assert got["id"] == "chelsea.jpg" and got["width"] > 0
    assert json.loads(run(env, "collections", "list", "--json").stdout) == ["pics"]

    queries = [
        ("search", "-c", "pics", "--image", str(photos / "coffee.jpg"), "-k", "3", "--json"),
        ("search", "-c", "pics", "--text", "a rocket", "--json"),
        ("search", "-c", "pics", "--id", "chelsea.jpg", "--json"),
        ("duplicates", "-c", "pics", "--json"),
    ]
    remote = [lines(run(env, *q).stdout)[0] for q in queries]
    assert remote[0]["results"][0]["id"] == "coffee.jpg"
    assert len(remote[1]["results"]) == n - 2  # the deleted records are gone
    assert "chelsea.jpg" not in [r["id"] for r in remote[2]["results"]]

    # --server from another data folder (no marker there): the same server answers
    elsewhere = {**env, "LOOKALIKE_DATA_DIR": str(tmp_path / "elsewhere")}
    named = run(elsewhere, "collections", "list", "--json", "--server", url)
    assert json.loads(named.stdout) == ["pics"] and "--server" in named.stderr
    unreachable = f"http://127.0.0.1:{free_port()}"
    refused = run(elsewhere, "get", "x", "--server", unreachable, ok=False)
    assert refused.returncode == 5 and f"cannot reach the lookalike server at {unreachable}" in (
        refused.stderr
    )

    # once the server stops, the same commands open the store and answer the same
    server.send_signal(signal.SIGINT)
    server.wait(timeout=60)
    assert not (Path(env["LOOKALIKE_DATA_DIR"]) / "server.json").exists()
    for query, seen in zip(queries, remote, strict=True):
        local = run(env, *query)
        assert VIA not in local.stderr
        assert lines(local.stdout)[0] == seen, query
    assert json.loads(run(env, "get", "chelsea.jpg", "-c", "pics").stdout) == got
    assert json.loads(run(env, "collections", "list", "--json").stdout) == ["pics"]


def test_people_moderation_and_face_search_go_through_the_running_server(
    env: dict[str, str], served: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    url, server = served
    photos = face_folder(tmp_path / "faces", ("person_a_1", "person_a_2", "person_b_1", "coffee"))
    run(env, "index", str(photos), "-c", "f", "--signals", "duplicate,faces")
    grouped = run(env, "people", "cluster", "-c", "f", "--json")
    assert f"{VIA} {url}" in grouped.stderr and lines(grouped.stdout)[0]["new_people"] == 2
    assert "person 1: Ada" in run(env, "people", "name", "-c", "f", "1", "Ada").stderr
    assert "merged into person 1" in run(env, "people", "merge", "-c", "f", "Ada", "2").stderr
    split = run(env, "people", "split", "-c", "f", "Ada", "person_b_1.jpg#0")
    assert "split off as person 3" in split.stderr
    made = run(
        env,
        "collections",
        "create",
        "m",
        "--signals",
        "duplicate,moderation",
        "--on-unsafe",
        "flag",
    )
    assert VIA in made.stderr and json.loads(made.stdout)["on_unsafe"] == "flag"

    queries = [
        ("people", "list", "-c", "f", "--json"),
        ("search", "-c", "f", "--person", "ada", "--json"),
        (
            "search",
            "-c",
            "f",
            "--id",
            "person_a_1.jpg",
            "--signal",
            "faces",
            "--face",
            "0",
            "--json",
        ),
        ("moderate", str(photos / "person_b_1.jpg"), "-c", "m", "--json"),
    ]
    remote = [lines(run(env, *q).stdout)[0] for q in queries]
    assert [(p["name"], p["faces"]) for p in remote[0]] == [("Ada", 2), (None, 1)]
    ada = {r["id"] for r in remote[1]["results"]}
    assert ada == set(remote[0][0]["sample"]) and len(ada) == 2
    assert all(r["match"]["name"] == "Ada" for r in remote[1]["results"])
    assert remote[2]["results"][0]["match"]["query_face"]["index"] == 0
    assert remote[3]["safe"] is True and remote[3]["labels"]

    # once the server stops, the same commands open the store and answer the same
    server.send_signal(signal.SIGINT)
    server.wait(timeout=60)
    for query, seen in zip(queries, remote, strict=True):
        local = run(env, *query)
        assert VIA not in local.stderr
        assert lines(local.stdout)[0] == seen, query
