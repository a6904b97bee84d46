"""Joining or starting the Ray cluster a run uses, with typed errors instead of hangs."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from urllib.parse import urlsplit

from lookalike.errors import ClusterUnavailable, MissingExtra

#: Seconds to wait for a cluster address to accept a connection before giving up.
CONNECT_TIMEOUT = 5.0
LOCAL = "local"
"""The address that starts a Ray instance on this machine for the run."""


def import_ray() -> ModuleType:
    """The ``ray`` module, or :class:`MissingExtra` naming the install command."""
    try:
        import ray
    except ImportError as exc:
        raise MissingExtra(
            'distributed ingest needs Ray: pip install "lookalike[ray]"',
            detail={"extra": "ray"},
        ) from exc
    return ray


@contextmanager
def cluster(address: str | None, *, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Ray connected for the duration: ``None``/``"local"`` starts an instance here (stopped
    after), ``auto``, ``host:port`` or ``ray://host:port`` joins a running cluster. A Ray
    already initialised in this process is used as it is and left running."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    address = None if address in (None, "", LOCAL) else address
    if address is not None and address != "auto":
        check_reachable(address)
    try:
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False if address is None else None,
            log_to_driver=False,
            ignore_reinit_error=True,
        )
    except (ConnectionError, TimeoutError) as exc:
        raise ClusterUnavailable(f"cannot join the Ray cluster at {address}: {exc}") from exc
    except RuntimeError as exc:
        text = str(exc)
        if "version" in text.lower():
            raise ClusterUnavailable(
                f"the Ray cluster at {address} runs another version than this client "
                f"(Ray {ray.__version__} here): {text}",
                detail={"client_version": ray.__version__},
            ) from exc
        raise ClusterUnavailable(f"cannot join the Ray cluster at {address}: {text}") from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail within ``timeout`` seconds when nothing listens at ``address`` (Ray itself
    retries for a long time before giving up)."""
    parts = urlsplit(address if "://" in address else f"//{address}")
    host, port = parts.hostname, parts.port
    if host is None or port is None:
        raise ClusterUnavailable(
            f"Ray address {address!r} needs a host and port (ray://host:10001, host:6379) "
            "or is 'auto'"
        )
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ClusterUnavailable(
            f"cannot reach the Ray cluster at {address} within {timeout:g} s: {reason}"
        ) from exc
