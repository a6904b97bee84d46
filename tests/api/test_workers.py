"""``serve --workers N``: the workers of one data folder share their background jobs (a client
may poll, page and cancel a job through any of them), a store one process owns is refused in
one line, and a real multi-worker server starts, answers and stops.

Two workers are played in one process by two job registries, or two apps, on one data folder;
the apps' engines share one local-mode client, as two processes share a Qdrant server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

import lookalike.api.jobs as jobs_module
from lookalike.api.jobs import Job, JobRegistry, SharedJob
from lookalike.api.jobshare import JobFiles, jobs_folder
from lookalike.config import Settings
from lookalike.engine import Collection, Engine
from lookalike.ingest import IngestReport, Progress
from lookalike.sources import Item
from lookalike.store.server import ServerStore
from lookalike.types import Outcome
from tests.support.encoded import b64, corrupt_jpeg, image_bytes
from tests.support.image_server import loopback
from tests.support.server import free_port, in_process


class _Steps:
    """A collection whose ``add`` indexes one item per step the test allows (all at once if
    not held), reporting progress after each, as the engine does."""

    name = "c"

    def __init__(self, held: bool) -> None:
        self.step = threading.Semaphore(0)
        self.held = held

    def add(
        self,
        items: Sequence[Any],
        *,
        progress: Callable[[Progress], None],
        on_duplicate: str = "allow",
    ) -> IngestReport:
        report = IngestReport()
        for i in range(len(items)):
            if self.held:
                assert self.step.acquire(timeout=60), "the test never let the item through"
            ok = i % 5 != 3
            report.outcomes.append(
                Outcome(
                    index=i,
                    id=f"r{i}" if ok else None,
                    source=f"s{i}",
                    status="indexed" if ok else "failed",
                    code=None if ok else "bad_image",
                    message=None if ok else "not an image",
                )
            )
            report.indexed += ok
            progress(Progress(len(items), i + 1, report.indexed, i + 1 - report.indexed))
        return report

    def allow(self, n: int) -> None:
        for _ in range(n):
            self.step.release()


def _submit(registry: JobRegistry, collection: _Steps, n: int) -> Job:
    items = cast(list[Item], [object()] * n)
    return registry.submit(cast(Collection, collection), items)


def _until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[JobRegistry, JobRegistry]]:
    """Two workers' job registries on one data folder."""
    folder = jobs_folder(tmp_path / "data")
    first, second = JobRegistry(shared=folder), JobRegistry(shared=folder)
    try:
        yield first, second
    finally:
        first.close(timeout=10)
        second.close(timeout=10)


def test_a_job_of_one_worker_is_followed_and_cancelled_through_another(
    pair: tuple[JobRegistry, JobRegistry],
) -> None:
    owner, other = pair
    steps = _Steps(held=True)
    job = _submit(owner, steps, 40)
    seen = other.get(job.id)
    assert isinstance(seen, SharedJob) and seen.status in ("queued", "running")
    assert [j.id for j in other.jobs()] == [job.id] and other.own_jobs() == []
    assert [j.id for j in other.active("c")] == [job.id]  # a drop there is refused too

    steps.allow(5)
    _until(lambda: other.get(job.id).done == 5, "the other worker sees the progress")
    running = other.get(job.id).to_dict()
    assert running["status"] == "running" and running["phase"] == "indexing"
    assert (running["done"], running["indexed"], running["failed"]) == (5, 4, 1)
    assert running["phase_seconds"] is not None and running["report"] is None

    asked = other.cancel(job.id)
    assert asked.status == "running"  # as for a job of its own: stopped after the item in hand
    while not owner.get(job.id).finished:  # an item at a time, as a slow batch goes
        steps.allow(1)
        time.sleep(0.02)
    stopped = owner.get(job.id)
    assert stopped.status == "cancelled" and stopped.done < 40
    _until(lambda: other.get(job.id).status == "cancelled", "the other worker sees it stop")
    assert other.get(job.id).to_dict() == owner.get(job.id).to_dict()
    # the owner drops the ask just after publishing the end, so the end may be seen first
    _until(lambda: not list(jobs_folder_of(owner).glob("*.cancel")), "the cancel ask is dropped")


def jobs_folder_of(registry: JobRegistry) -> Path:
    files = registry._files
    assert files is not None
    return files.folder


@pytest.mark.parametrize(("offset", "limit"), [(0, None), (0, 7), (7, 7), (35, 7), (40, 3)])
def test_a_finished_report_pages_the_same_through_every_worker(
    pair: tuple[JobRegistry, JobRegistry], offset: int, limit: int | None
) -> None:
    owner, other = pair
    job = _submit(owner, _Steps(held=False), 40)
    _until(lambda: other.get(job.id).finished, "the job ends")
    mine, theirs = owner.get(job.id), other.get(job.id)
    assert theirs.to_dict(offset=offset, limit=limit) == mine.to_dict(offset=offset, limit=limit)
    assert theirs.to_dict(report=False) == mine.to_dict(report=False)
    page = theirs.to_dict(offset=offset, limit=limit)["report"]
    assert page["outcomes_total"] == 40 and [o["index"] for o in page["outcomes"]] == list(
        range(offset, 40 if limit is None else min(40, offset + limit))
    )


def test_a_dropped_report_and_a_forgotten_job_are_so_for_every_worker(
    pair: tuple[JobRegistry, JobRegistry], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_module, "KEEP_REPORTS", 1)
    monkeypatch.setattr(jobs_module, "KEEP_FINISHED", 2)
    owner, other = pair
    made = []
    for _ in range(3):
        made.append(_submit(owner, _Steps(held=False), 10))
        _until(lambda: made[-1].finished, "the job ends")
    _until(lambda: len(owner.own_jobs()) == 2, "the owner forgets the oldest")
    oldest, older, newest = made
    with pytest.raises(Exception, match="no job"):
        other.get(oldest.id)
    dropped = other.get(older.id).to_dict()
    assert dropped == owner.get(older.id).to_dict()
    assert dropped["report"] is None and dropped["report_dropped"] is True
    assert other.get(newest.id).to_dict()["report"]["outcomes_total"] == 10
    assert [j.id for j in other.jobs()] == [newest.id, older.id]


def test_a_job_whose_worker_died_shows_as_failed(
    pair: tuple[JobRegistry, JobRegistry], tmp_path: Path
) -> None:
    owner, other = pair
    steps = _Steps(held=True)
    job = _submit(owner, steps, 10)
    steps.allow(2)
    _until(lambda: other.get(job.id).done == 2, "the other worker sees the progress")
    # the snapshot as a worker leaves it when killed mid-job: its process is gone
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    path = jobs_folder_of(owner) / f"{job.id}.json"
    snapshot = json.loads(path.read_text())
    path.write_text(json.dumps({**snapshot, "owner": gone.pid}))
    lost = other.get(job.id).to_dict()
    assert lost["status"] == "failed" and lost["error"]["code"] == "worker_lost"
    assert lost["done"] == 2 and lost["phase_seconds"] is None
    steps.allow(10)


def test_names_that_are_no_job_id_reach_no_file(pair: tuple[JobRegistry, JobRegistry]) -> None:
    _, other = pair
    for name in ("../server", "nope", "a" * 31, f"{uuid.uuid4().hex}/../x"):
        with pytest.raises(Exception, match="no job"):
            other.get(name)
        with pytest.raises(Exception, match="no job"):
            other.cancel(name)
    # files that are no job's snapshot are no job either
    for body in ("{}", "[1]", '{"id": 3}', "not json"):
        name = uuid.uuid4().hex
        (jobs_folder_of(other) / f"{name}.json").write_text(body)
        with pytest.raises(Exception, match="no job"):
            other.get(name)
    assert other.jobs() == []


def _jobs_of(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} did not finish"
        time.sleep(0.1)


@pytest.mark.slow
def test_two_apps_on_one_data_folder_share_their_jobs(server_settings: Settings) -> None:
    settings = server_settings.replace(default_signals=("duplicate",), workers=2)
    first = ServerStore.connect("qdrant-local::memory:")
    second = ServerStore(first.client, url=first.url)
    small = b64(image_bytes("rocket", side=64))
    items: list[dict[str, Any]] = [{"id": f"i{i}", "base64": small} for i in range(12)]
    items[4] = {"id": "bad", "base64": b64(corrupt_jpeg())}
    with (
        in_process(settings, engine=Engine(settings, store=first)) as a,
        in_process(settings, engine=Engine(settings, store=second)) as b,
    ):
        assert a.post("/collections", json={"name": "c"}).status_code == 201
        r = a.post("/collections/c/records", json={"items": items, "background": True})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        done = _jobs_of(b, job_id)  # polled through the worker that did not take it
        assert done["status"] == "done" and (done["indexed"], done["failed"]) == (11, 1)
        for query in ("", "?offset=3&limit=2", "?offset=10&limit=5"):
            assert b.get(f"/jobs/{job_id}{query}").json() == a.get(f"/jobs/{job_id}{query}").json()
        assert b.get("/jobs").json() == a.get("/jobs").json()
        assert [j["id"] for j in b.get("/jobs").json()["jobs"]] == [job_id]
        assert b.get("/collections/c/count").json() == {"count": 11}
        # metrics stay per process: only the worker that ran the job counts it
        assert 'lookalike_jobs{status="done"} 1.0' in a.get("/metrics").text
        assert 'lookalike_jobs{status="done"} 0.0' in b.get("/metrics").text


@pytest.mark.parametrize("workers", [2, 1])
def test_a_collection_dropped_and_made_again_through_one_worker_is_the_new_one_for_all(
    server_settings: Settings, workers: int
) -> None:
    settings = server_settings.replace(workers=workers)
    first = ServerStore.connect("qdrant-local::memory:")
    second = ServerStore(first.client, url=first.url)
    with (
        in_process(settings, engine=Engine(settings, store=first)) as a,
        in_process(settings, engine=Engine(settings, store=second)) as b,
    ):
        made = a.post("/collections", json={"name": "c", "signals": "duplicate"})
        assert made.status_code == 201, made.text
        assert b.get("/collections/c").json()["signals"] == ["duplicate"]  # b holds it open
        assert a.delete("/collections/c").status_code == 200
        gone = b.get("/collections/c")
        again = a.post("/collections", json={"name": "c", "signals": "semantic"})
        assert again.status_code == 201, again.text
        seen = b.get("/collections/c").json()
    if workers == 1:  # separate servers: each keeps what it opened (docs/server.md says so)
        assert seen["signals"] == ["duplicate"]
    else:
        assert gone.status_code == 404, gone.text
        assert seen["signals"] == ["semantic"]


def _lookalike(*args: str, data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookalike", *args],
        env={**os.environ, "LOOKALIKE_DATA_DIR": str(data), "LOOKALIKE_OFFLINE": "true", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("store", "named"),
    [("edge", "store = edge"), ("qdrant-local:{tmp}/q", "qdrant-client's local mode")],
)
def test_several_workers_on_a_store_one_process_owns_is_a_usage_error(
    tmp_path: Path, store: str, named: str
) -> None:
    done = _lookalike(
        "serve",
        "--workers",
        "2",
        "--port",
        str(free_port()),
        data=tmp_path / "data",
        LOOKALIKE_STORE=store.format(tmp=tmp_path),
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert named in lines[0] and "http(s)://" in lines[0] and "--workers 1" in lines[0]
    assert not (tmp_path / "data" / "server.json").exists()


_CLIENT_VERSION = version("qdrant-client")
"""The version the probe server claims: one the client does not warn about."""


class _ProbeOnly(BaseHTTPRequestHandler):
    """The two answers of a Qdrant server that a starting lookalike asks for: its version and
    its (here empty) list of collections. Anything else is a 404."""

    def do_GET(self) -> None:  # noqa: N802 (the handler's name is http.server's)
        answers = {
            "/": {"title": "qdrant - vector search engine", "version": _CLIENT_VERSION},
            "/collections": {"result": {"collections": []}, "status": "ok", "time": 0.0},
            "/aliases": {"result": {"aliases": []}, "status": "ok", "time": 0.0},
        }
        body = answers.get(self.path.split("?")[0])
        data = json.dumps(body or {"status": {"error": "not found"}}).encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.mark.slow
def test_a_real_server_with_two_workers_answers_and_stops(tmp_path: Path) -> None:
    data = tmp_path / "data"
    stale = jobs_folder(data)
    stale.mkdir(parents=True)
    (stale / f"{uuid.uuid4().hex}.json").write_text("{}")  # a job of a server stopped before
    port = free_port()
    log_path = tmp_path / "server.log"
    workers: set[int] = set()
    with loopback(_ProbeOnly) as qdrant, open(log_path, "wb") as log:
        env = {**os.environ, "LOOKALIKE_DATA_DIR": str(data), "LOOKALIKE_OFFLINE": "true"}
        server = subprocess.Popen(
            [sys.executable, "-m", "lookalike", "--store", qdrant, "serve"]
            + ["--workers", "2", "--port", str(port), "--log-level", "info"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"

            def started() -> bool:
                assert server.poll() is None, log_path.read_text()
                return log_path.read_text().count("Application startup complete") == 2

            _until(started, "two workers start", timeout=120)
            marker = json.loads((data / "server.json").read_text())
            assert marker == {"url": url, "pid": server.pid}  # the parent's, written once
            assert not list(stale.glob("*.json"))  # the stopped server's jobs are forgotten
            workers |= {
                int(line.split("[")[1].split("]")[0])
                for line in log_path.read_text().splitlines()
                if "Started server process [" in line
            }
            assert len(workers) == 2 and server.pid not in workers

            # a job another worker holds (played by this process) answers through every worker
            files = JobFiles(stale)
            job_id = uuid.uuid4().hex
            summary = Job(id=job_id, collection="c", total=3, status="running").snapshot()[0]
            files.publish(summary, None)
            with httpx.Client(base_url=url, timeout=30) as client:
                for _ in range(8):  # new connections: the kernel spreads them over the workers
                    with httpx.Client(base_url=url, timeout=30) as fresh:
                        seen = fresh.get(f"/jobs/{job_id}").json()
                        assert seen["id"] == job_id and seen["status"] == "running"
                        assert [j["id"] for j in fresh.get("/jobs").json()["jobs"]] == [job_id]
                assert client.get("/health").status_code == 200
                assert client.delete(f"/jobs/{job_id}").status_code == 202
                assert files.cancel_asked(job_id)
                assert client.get(f"/jobs/{uuid.uuid4().hex}").status_code == 404
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            finally:
                if server.poll() is None:
                    server.kill()
                    server.wait()
    text = log_path.read_text()
    assert "Traceback" not in text, text
    assert not (data / "server.json").exists(), text
    for pid in workers:
        _until(lambda pid=pid: not _alive(pid), f"worker {pid} stops", timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
