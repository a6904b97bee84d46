"""What travels between the client and a server, free of any I/O: the steps an operation takes
(``Call``, ``Pause``), the ``Reply`` it gets back, and the mapping of error bodies to
:mod:`lookalike.errors` classes.

An operation is a generator (a ``Plan``) that yields steps and receives replies; the sync and
the async client each drive it with their own httpx client, so the request building, paging,
upload chunking and job polling exist once for both."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from lookalike import errors
from lookalike.errors import LookalikeError

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One HTTP request to the server, relative to its base URL."""

    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    json: Any = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    data: Mapping[str, str | list[str]] | None = None
    timeout: float | None = None
    """Seconds, when this call may take longer than the client's default (an upload)."""
    headers: Mapping[str, str] | None = None
    idempotent: bool | None = None
    """Whether sending the call twice does what sending it once does, so that it may be retried
    after a failure that may have reached the server; None: by its method (GET, PUT, DELETE)."""
    body_file: Path | None = None
    """A file streamed as the request's body (a backup to restore), never read whole."""
    save_to: Path | None = None
    """A file the answer's body is streamed into (a backup); the reply's body is then None.
    Calls that stream have no read or write time limit: a whole collection travels."""


@dataclass(frozen=True)
class Pause:
    """Wait before the next step (polling a job)."""

    seconds: float


@dataclass(frozen=True)
class Reply:
    """A successful (2xx) answer."""

    status: int
    body: Any
    """Parsed JSON, or the raw bytes of a non-JSON answer (a thumbnail)."""
    headers: Mapping[str, str] = field(default_factory=dict)


Step = Call | Pause
Plan = Generator[Step, Reply | None, T]
"""Yields steps; a ``Call`` is answered with its ``Reply`` (or an error thrown in), a ``Pause``
with None; returns the operation's result."""


def request_args(call: Call, timeout: float | httpx.Timeout) -> dict[str, Any]:
    """Keyword arguments of ``httpx.Client.request`` / ``httpx.AsyncClient.request``."""
    args: dict[str, Any] = {"timeout": _timeout(call, timeout)}
    if call.headers:
        args["headers"] = dict(call.headers)
    if call.params:
        args["params"] = dict(call.params)
    if call.json is not None:
        args["json"] = call.json
    if call.files is not None:
        args["files"] = call.files
    if call.data is not None:
        args["data"] = dict(call.data)
    return args


CHUNK = 1 << 20


def file_chunks(path: Path) -> Iterator[bytes]:
    """The body of a call with ``body_file``, a chunk at a time."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise errors.BadInput(f"cannot read {path}: {exc.strerror}") from None
    with fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _timeout(call: Call, timeout: float | httpx.Timeout) -> float | httpx.Timeout:
    """The client's timeout, with the longer read and write time of a call that needs one (an
    upload, a whole-collection operation) unless the client's is longer already."""
    if call.body_file is not None or call.save_to is not None:
        connect = timeout.connect if isinstance(timeout, httpx.Timeout) else timeout
        return httpx.Timeout(connect=connect, read=None, write=None, pool=connect)
    if call.timeout is None:
        return timeout
    if not isinstance(timeout, httpx.Timeout):
        return max(timeout, call.timeout)

    def longer(seconds: float | None) -> float | None:
        return None if seconds is None else max(seconds, call.timeout or 0.0)

    return httpx.Timeout(
        connect=timeout.connect,
        read=longer(timeout.read),
        write=longer(timeout.write),
        pool=timeout.pool,
    )


def reply_of(response: httpx.Response, *, saved: bool = False) -> Reply:
    """The reply of a 2xx response (``saved``: its body went to a file); any other raises the
    lookalike error it carries."""
    if not response.is_success:
        raise error_of(response)
    if saved:
        return Reply(response.status_code, None, response.headers)
    kind = response.headers.get("content-type", "")
    body: Any = response.content
    if kind.startswith("application/json"):
        body = response.json()
    elif response.status_code == 204 or not response.content:
        body = None
    return Reply(response.status_code, body, response.headers)


def transport_error(base_url: str, exc: httpx.TransportError) -> LookalikeError:
    """A server that cannot be reached (or stops answering) is an unavailable store."""
    if isinstance(exc, httpx.TimeoutException):
        return errors.StoreUnavailable(
            f"the lookalike server at {base_url} did not answer in time ({type(exc).__name__})"
        )
    return errors.StoreUnavailable(
        f"cannot reach the lookalike server at {base_url}: {exc or type(exc).__name__}"
    )


def error_of(response: httpx.Response) -> LookalikeError:
    """The error of a non-2xx response (see :func:`error_from`); a body that is not the
    server's (a proxy's page) is read by its status."""
    status = response.status_code
    try:
        found = response.json().get("error")
    except (ValueError, AttributeError):
        found = None
    if isinstance(found, dict):
        return error_from(found, status)
    text = response.text.strip()
    message = f"HTTP {status} from {response.request.url}"
    if text:
        message += f": {text.splitlines()[0][:200]}"
    return _by_status(status)(message)


def error_from(error: Mapping[str, Any], status: int = 500) -> LookalikeError:
    """The :mod:`lookalike.errors` class whose ``code`` the body names, by ``status`` when the
    code is not one of ours (a route's own, e.g. ``validation_error``)."""
    code = str(error.get("code") or "")
    message = str(error.get("message") or code or f"HTTP {status}")
    cls = errors.error_class(code, default=_by_status(status))
    return cls(message, detail=error.get("detail"))


_BY_STATUS: dict[int, type[LookalikeError]] = {
    400: errors.BadInput,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.ImageTooLarge,
    415: errors.UnsupportedFormat,
    503: errors.StoreUnavailable,
}


def _by_status(status: int) -> type[LookalikeError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return errors.BadInput if 400 <= status < 500 else LookalikeError
