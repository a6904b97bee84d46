"""When the client sends a request again, and how long it waits first. No I/O here: the sync
and the async client ask :meth:`Retry.wait` after each failed attempt and sleep their own way.

A request that never reached the server (the connection could not be made) is always safe to
send again. One that may have reached it (the connection broke, the answer was a 503) is sent
again only when sending it twice does what sending it once does: reads, deletes, replacing
metadata, searches (``Call.idempotent``), or a call that carries an ``Idempotency-Key`` header.
A 503 that names a lasting cause (a model or an extra missing) is not retried: only an
unavailable store, a server busy with copy searches, or a proxy's 503, is."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

from lookalike.client.wire import Call
from lookalike.errors import Busy, LookalikeError, StoreUnavailable

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
IDEMPOTENCY_KEY = "Idempotency-Key"
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before any byte of the request left."""


@dataclass(frozen=True)
class Retry:
    """How often and after how long a failed request is sent again.

    ``retries`` more attempts after the first (0: none); the wait before attempt ``n`` is
    ``backoff * 2**n`` seconds, at most ``max_backoff``, or what the server's ``Retry-After``
    asks when that is longer (up to ``max_backoff`` too), with some jitter so that many
    clients do not come back at once."""

    retries: int = 2
    backoff: float = 0.5
    max_backoff: float = 10.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("retries, backoff and max_backoff must not be negative")

    def wait(
        self,
        call: Call,
        attempt: int,
        *,
        transport: httpx.TransportError | None = None,
        error: LookalikeError | None = None,
        response: httpx.Response | None = None,
    ) -> float | None:
        """Seconds to wait before sending ``call`` again after its ``attempt``-th failure
        (from 0), or None to give up: a ``transport`` error, or the ``error`` a ``response``
        carried."""
        if attempt >= self.retries:
            return None
        asked = None
        if transport is not None:
            if not isinstance(transport, _NOT_SENT) and not repeatable(call):
                return None
        elif response is not None and error is not None:
            if response.status_code != 503 or type(error) not in (StoreUnavailable, Busy):
                return None
            if not repeatable(call):
                return None
            asked = retry_after(response.headers.get("Retry-After"))
        else:
            return None
        wait = self.backoff * 2.0**attempt
        if asked is not None:
            wait = max(wait, asked)
        wait = min(wait, self.max_backoff)
        return wait * random.uniform(0.75, 1.0)


def repeatable(call: Call) -> bool:
    """Whether sending ``call`` twice does what sending it once does."""
    if call.headers and any(k.lower() == IDEMPOTENCY_KEY.lower() for k in call.headers):
        return True
    if call.idempotent is not None:
        return call.idempotent
    return call.method.upper() in IDEMPOTENT_METHODS


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


DEFAULT_RETRY = Retry()
"""Two more attempts, after about 0.5 and 1 second."""
