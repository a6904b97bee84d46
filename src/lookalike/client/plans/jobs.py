"""Background jobs: listed, looked up, and polled until they end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lookalike.client.plans.common import body_of, q
from lookalike.client.wire import Call, Pause, Plan, error_from
from lookalike.errors import BadInput

RUNNING = frozenset({"queued", "pending", "running"})


def list_jobs() -> Plan[list[dict[str, Any]]]:
    body = body_of((yield Call("GET", "/jobs")))
    return list(body["jobs"] if isinstance(body, dict) else body)


def get_job(job_id: str) -> Plan[dict[str, Any]]:
    return job_of(body_of((yield Call("GET", f"/jobs/{q(job_id)}"))))


def wait_job(
    job_id: str, on_progress: Callable[[int, int, int], None] | None = None
) -> Plan[dict[str, Any]]:
    """Poll a job until it ends; its final report, or the error it ended with.
    ``on_progress(done, indexed, failed)`` sees each poll."""
    delay = 0.1
    while True:
        job = yield from get_job(job_id)
        if on_progress is not None:
            failed = job.get("failed") or 0
            failed = len(failed) if isinstance(failed, list) else int(failed)
            done = int(job.get("done") or 0)
            on_progress(done, int(job.get("indexed", done - failed)), failed)
        if job.get("status") in RUNNING:
            yield Pause(delay)
            delay = min(1.0, delay * 1.5)
            continue
        if job.get("report") is not None:
            return dict(job["report"])
        if job.get("result") is not None:
            return dict(job["result"])
        error = job.get("error")
        raise error_from(error if isinstance(error, dict) else {"message": str(error)})


def job_of(body: Any) -> dict[str, Any]:
    job = body.get("job", body) if isinstance(body, dict) else None
    if not isinstance(job, dict) or "id" not in job:
        raise BadInput(f"the server answered 202 without a job: {str(body)[:200]}")
    return job
