"""The CLI as a user runs it: a subprocess per command, JSON output, exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lookalike import Engine, Settings
from tests.support.cli import lines, run

pytestmark = pytest.mark.slow


def test_index_search_and_records(env: dict[str, str], photos: Path, tiny_model: Path) -> None:
    n = len(list(photos.iterdir()))
    first = run(env, "index", str(photos), "-c", "pics", "--model", str(tiny_model), "--json")
    report = lines(first.stdout)[0]
    assert report["indexed"] == n and report["failed"] == []
    assert f"indexed {n}" in first.stderr and "images/s" in first.stderr
    again = lines(run(env, "index", str(photos), "-c", "pics", "--json").stdout)[0]
    assert (again["indexed"], again["skipped"]) == (0, n)

    # one JSON object per query: two images and a text
    out = run(
        env,
        "search",
        "-c",
        "pics",
        "--image",
        str(photos / "coffee.jpg"),
        "--image",
        str(photos / "chelsea.jpg"),
        "--top-k",
        "3",
        "--score",
        "duplicate",  # the copy signal's score too, which a semantic query leaves out
        "--json",
    ).stdout
    a, b = lines(out)
    assert a["query"].endswith("coffee.jpg") and a["results"][0]["id"] == "coffee.jpg"
    assert b["results"][0]["id"] == "chelsea.jpg"
    top = a["results"][0]
    assert set(top) == {"id", "score", "source", "group", "metadata", "scores"}
    assert top["scores"]["semantic"] >= 0.99 and top["scores"]["duplicate"] >= 0.99
    # a folder and stdin
    folder = lines(
        run(env, "search", "-c", "pics", "--image", str(photos), "--json", "-k", "1").stdout
    )
    assert [q["results"][0]["id"] for q in folder] == sorted(p.name for p in photos.iterdir())
    assert all(set(q["results"][0]["scores"]) == {"semantic"} for q in folder)  # not asked
    stdin_run = run(
        env,
        "search",
        "-c",
        "pics",
        "--image",
        "-",
        "--json",
        "-k",
        "1",
        input=f"{photos / 'rocket.jpg'}\n/missing.jpg\n",
        ok=False,
    )
    assert stdin_run.returncode == 3  # the highest exit code of the failed queries
    stdin = lines(stdin_run.stdout)
    assert stdin[0]["results"][0]["id"] == "rocket.jpg" and stdin[1]["error"]["code"]
    by_id = lines(run(env, "search", "-c", "pics", "--id", "rocket.jpg", "--json").stdout)[0]
    assert "rocket.jpg" not in [r["id"] for r in by_id["results"]]
    by_text = lines(run(env, "search", "-c", "pics", "--text", "a rocket", "--json").stdout)[0]
    assert len(by_text["results"]) == n
    human = run(env, "search", "-c", "pics", "--text", "a rocket", "-k", "2").stdout
    assert "score" in human and ".jpg" in human

    updated = json.loads(
        run(
            env, "update", "rocket.jpg", "-c", "pics", "--metadata", '{"kind": "space", "price": 5}'
        ).stdout
    )
    assert updated["metadata"] == {"kind": "space", "price": 5}
    filtered = lines(
        run(
            env,
            "search",
            "-c",
            "pics",
            "--text",
            "x",
            "--json",
            "--filter",
            '{"price": {"$lt": 10}}',
        ).stdout
    )[0]
    assert [r["id"] for r in filtered["results"]] == ["rocket.jpg"]
    got = json.loads(run(env, "get", "rocket.jpg", "-c", "pics").stdout)
    assert got["metadata"]["kind"] == "space"
    assert run(env, "delete", "rocket.jpg", "-c", "pics").returncode == 0
    missing = run(env, "get", "rocket.jpg", "-c", "pics", ok=False)
    assert missing.returncode == 3 and "rocket.jpg" in missing.stderr

    shown = json.loads(run(env, "collections", "show", "pics").stdout)
    assert shown["count"] == n - 1 and shown["signals"] == ["semantic", "duplicate"]
    assert json.loads(run(env, "collections", "list", "--json").stdout) == ["pics"]
    run(env, "collections", "create", "empty", "--signals", "duplicate")
    run(env, "collections", "drop", "empty", "--yes")
    assert json.loads(run(env, "collections", "list", "--json").stdout) == ["pics"]


def test_errors_are_one_line_with_exit_codes(env: dict[str, str], photos: Path) -> None:
    run(env, "index", str(photos), "-c", "dup", "--signals", "duplicate")
    bad_filter = run(
        env,
        "search",
        "-c",
        "dup",
        "--id",
        "coffee.jpg",
        "--filter",
        '{"a": {"$regex": "x"}}',
        ok=False,
    )
    assert bad_filter.returncode == 2 and "$regex" in bad_filter.stderr
    assert bad_filter.stderr.count("\n") == 1
    no_coll = run(env, "search", "-c", "nope", "--id", "x", ok=False)
    assert no_coll.returncode == 3 and "nope" in no_coll.stderr
    text_on_dup = run(env, "search", "-c", "dup", "--text", "cat", ok=False)
    assert text_on_dup.returncode == 2 and "semantic" in text_on_dup.stderr
    no_confirm = run(env, "collections", "drop", "dup", input="", ok=False)
    assert no_confirm.returncode == 2 and "--yes" in no_confirm.stderr
    no_model = run(env, "index", str(photos), "-c", "sem", ok=False)
    assert no_model.returncode == 5
    assert "clip-vit-b-32" in no_model.stderr.lower() and "models download" in no_model.stderr


class _SlowImages(BaseHTTPRequestHandler):
    """Serves numbered JPEGs; calls ``on_request`` with the running count."""

    images: list[bytes] = []
    served = 0
    lock = threading.Lock()
    on_request: Any = None

    def do_GET(self) -> None:  # noqa: N802
        index = int(self.path.strip("/").split(".")[0])
        with self.lock:
            type(self).served += 1
            count = type(self).served
        if self.on_request is not None:
            self.on_request(count)
        body = self.images[index]
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def image_server(photo_files: Path) -> Iterator[tuple[str, type[_SlowImages]]]:
    from PIL import Image, ImageEnhance

    images = []
    base = [Image.open(p).convert("RGB") for p in sorted(photo_files.iterdir())]
    import io

    for i in range(160):
        im = ImageEnhance.Brightness(base[i % len(base)]).enhance(0.5 + i / 160)
        im = im.rotate(i * 2.0)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=80)
        images.append(buf.getvalue())
    handler = type("Handler", (_SlowImages,), {"images": images, "served": 0, "on_request": None})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


def _default_sigint() -> None:
    """Undo an inherited 'ignore SIGINT' (background shells set it), as a terminal would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["crash", "ctrl-c"])
def test_killed_ingest_keeps_what_it_reported_and_resumes(
    env: dict[str, str],
    tmp_path: Path,
    image_server: tuple[str, type[_SlowImages]],
    how: signal.Signals,
) -> None:
    base_url, handler = image_server
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{base_url}/{i}.jpg\n" for i in range(160)))
    env = {**env, "LOOKALIKE_ALLOW_PRIVATE_URLS": "true", "LOOKALIKE_BATCH_SIZE": "8"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lookalike",
            "index",
            str(urls),
            "-c",
            "u",
            "--signals",
            "duplicate",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    reached = threading.Event()

    def stall(count: int) -> None:  # the 100th request hangs until the process is gone
        if count >= 100:
            reached.set()
            time.sleep(3)

    handler.on_request = staticmethod(stall)
    assert reached.wait(120), "the ingest never got that far"
    proc.send_signal(how)
    _, stderr = proc.communicate(timeout=60)
    if how == signal.SIGINT:
        assert proc.returncode == 130 and "rerun to resume" in stderr
        assert "Traceback" not in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    handler.on_request = None
    with Engine(Settings(data_dir=Path(env["LOOKALIKE_DATA_DIR"]))) as engine:
        kept = engine.collection("u").count()
    assert 0 < kept < 160
    rerun = lines(run(env, "index", str(urls), "-c", "u", "--json").stdout)[0]
    assert rerun["skipped"] == kept and rerun["indexed"] == 160 - kept
    assert rerun["failed"] == []
    with Engine(Settings(data_dir=Path(env["LOOKALIKE_DATA_DIR"]))) as engine:
        coll = engine.collection("u")
        assert coll.count() == 160
        ids, offset = set(), None
        while True:
            page, offset = coll.list_records(limit=64, offset=offset)
            ids |= {r["id"] for r in page}
            if offset is None:
                break
        assert ids == {f"{base_url}/{i}.jpg" for i in range(160)}


def test_url_ingest_refuses_private_addresses_by_default(
    env: dict[str, str], tmp_path: Path, image_server: tuple[str, type[_SlowImages]]
) -> None:
    base_url, handler = image_server
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{base_url}/0.jpg\n{base_url}/1.jpg\n")
    done = run(env, "index", str(urls), "-c", "u", "--signals", "duplicate", "--json", ok=False)
    report = lines(done.stdout)[0]
    assert report["indexed"] == 0 and {f["code"] for f in report["failed"]} == {"forbidden_address"}
    assert handler.served == 0


def test_a_catalog_line_whose_id_holds_a_nul_byte_fails_alone(
    env: dict[str, str], photos: Path, tmp_path: Path
) -> None:
    names = sorted(p.name for p in photos.iterdir())[:3]
    ids = ["first", "bad\u0000id", "third"]
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text(
        "".join(
            json.dumps({"id": i, "path": str(photos / n)}) + "\n"
            for i, n in zip(ids, names, strict=True)
        )
    )
    done = run(env, "index", str(catalog), "-c", "n", "--signals", "duplicate", "--json")
    report = lines(done.stdout)[0]
    assert report["indexed"] == 2
    (failed,) = report["failed"]
    assert failed["code"] == "bad_input" and failed["source"] == f"{catalog}:2"
    assert "line 2: id 'bad\\x00id' holds a NUL byte" in failed["message"]
    page = json.loads(run(env, "records", "-c", "n", "--json").stdout)
    assert sorted(r["id"] for r in page["records"]) == ["first", "third"]


def test_duplicates_command_reports_and_deletes_copies(
    env: dict[str, str], photos: Path, tmp_path: Path
) -> None:
    from PIL import Image

    Image.open(photos / "coffee.jpg").resize((256, 170)).save(photos / "coffee-small.jpg")
    run(env, "index", str(photos), "-c", "d", "--signals", "duplicate")
    report = tmp_path / "dups.csv"
    listed = run(env, "duplicates", "-c", "d", "--report", str(report), "--json")
    clusters = json.loads(listed.stdout)
    assert [(c["keep"], c["copies"]) for c in clusters] == [("coffee.jpg", ["coffee-small.jpg"])]
    copy = clusters[0]["members"][1]
    assert copy["id"] == "coffee-small.jpg" and copy["linked_to"] == "coffee.jpg"
    assert copy["score"] >= 0.75
    assert copy["inliers"] is not None or copy["hash_distance"] is not None  # the evidence
    assert (copy["region"] is None) == (copy["inliers"] is None)  # and where, when verified
    assert "coffee-small.jpg" in report.read_text()
    text = run(env, "duplicates", "-c", "d").stdout
    assert "cluster 1: keep coffee.jpg" in text and "linked to coffee.jpg" in text
    refused = run(env, "duplicates", "-c", "d", "--delete-copies", input="", ok=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    run(env, "duplicates", "-c", "d", "--delete-copies", "--yes")
    missing = run(env, "get", "coffee-small.jpg", "-c", "d", ok=False)
    assert missing.returncode == 3
    flagged = run(
        env,
        "index",
        str(photos / "coffee-small.jpg"),
        "-c",
        "d",
        "--on-duplicate",
        "flag",
        "--json",
    )
    assert lines(flagged.stdout)[0]["duplicates"][0]["duplicate_of"] == "coffee.jpg"


def test_text_search_shows_the_matched_lines(env: dict[str, str], tmp_path: Path) -> None:
    from tests.support.samples import photo
    from tests.support.text_images import render

    folder = tmp_path / "signs"
    folder.mkdir()
    render(photo("coffee"), ("Opening", "Hours"), font="roboto", size=0.09).image.save(
        folder / "hours.jpg", quality=90
    )
    render(photo("rocket"), ("Launch", "Pad"), font="caladea-bold", size=0.09).image.save(
        folder / "launch.jpg", quality=90
    )
    run(env, "index", str(folder), "-c", "signs", "--signals", "text")
    found = lines(run(env, "search", "-c", "signs", "-t", "HOURS", "--json").stdout)[0]
    assert [r["id"] for r in found["results"]] == ["hours.jpg"]
    (line,) = found["results"][0]["match"]["lines"]
    assert "hours" in line["text"].lower() and line["words"] == ["hours"]
    table = run(env, "search", "-c", "signs", "-t", "launch", "--signal", "text").stdout
    assert "launch.jpg" in table and "Launch Pad" in table and "hours.jpg" not in table


def test_thumbnails_option_of_create_and_index(env: dict[str, str], photos: Path) -> None:
    made = json.loads(
        run(env, "collections", "create", "t", "--signals", "duplicate", "--thumbnails").stdout
    )
    assert made["thumbnails"] is True and made["count"] == 0
    out = run(env, "index", str(photos), "-c", "t2", "--signals", "duplicate", "--thumbnails")
    assert "indexed" in out.stderr
    with Engine(Settings(data_dir=Path(env["LOOKALIKE_DATA_DIR"]))) as engine:
        assert engine.collection("t").thumbnails
        jpeg = engine.collection("t2").thumbnail("rocket.jpg")
        assert jpeg[:3] == b"\xff\xd8\xff"
