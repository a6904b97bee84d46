"""Joining or starting the Ray cluster a run uses, with typed errors instead of hangs."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from lookalike.errors import BadInput, ClusterUnavailable, MissingExtra

#: Seconds to wait for a cluster address to accept a connection before giving up.
CONNECT_TIMEOUT = 5.0
LOCAL = "local"
"""The address that starts a Ray instance on this machine for the run."""

# How Ray words its own version check (ray._private.utils.check_version_info), for both the
# GCS address and the Ray Client: "The cluster was started with:\n    Ray: 2.60.0 ...".
_THEIRS = re.compile(r"cluster was started with:\s*Ray:\s*(\S+)")
_OURS = re.compile(r"This process on .*? was started with:\s*Ray:\s*(\S+)", re.DOTALL)


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
    already initialised in this process is used as it is and left running. A cluster of
    another Ray version than this client is refused, naming both."""
    ray = import_ray()
    if ray.is_initialized():
        check_version(ray, "the running Ray instance")
        yield ray
        return
    address = check_address(address)
    if address is not None and address != "auto":
        check_reachable(address)
    where = address or "this machine"
    try:
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False if address is None else None,
            log_to_driver=False,
            ignore_reinit_error=True,
        )
    except (ConnectionError, TimeoutError) as exc:
        raise ClusterUnavailable(f"cannot join the Ray cluster at {where}: {exc}") from exc
    except RuntimeError as exc:
        text = str(exc)
        theirs, ours = _THEIRS.search(text), _OURS.search(text)
        if theirs is not None:
            raise version_mismatch(where, ours[1] if ours else ray.__version__, theirs[1]) from exc
        raise ClusterUnavailable(f"cannot join the Ray cluster at {where}: {text}") from exc
    try:
        check_version(ray, where)
        yield ray
    finally:
        ray.shutdown()


def check_version(ray: ModuleType, where: str) -> None:
    """Refuse a cluster whose Ray version is not this client's (a worker unpickles what the
    driver sends: across versions that fails late and obscurely, or not at all)."""
    theirs = cluster_version(ray)
    if theirs is not None and theirs != ray.__version__:
        raise version_mismatch(where, ray.__version__, theirs)


def version_mismatch(where: str, client: str, cluster_side: str) -> ClusterUnavailable:
    return ClusterUnavailable(
        f"the Ray cluster at {where} runs Ray {cluster_side}, this client Ray {client}: "
        f'install the same version on both (pip install "ray[data]=={cluster_side}")',
        detail={"client_version": client, "cluster_version": cluster_side},
    )


def cluster_version(ray: ModuleType) -> str | None:
    """The Ray version the connected cluster was started with, as its control store (GCS)
    records it; ``None`` when it cannot tell (a Ray Client connection, which Ray checks
    itself on connecting)."""
    try:
        from ray._common.usage.usage_lib import get_cluster_metadata

        client = ray._private.worker.global_worker.gcs_client
        metadata: Mapping[str, Any] | None = get_cluster_metadata(client)
    except Exception:  # internal API of Ray: absent, renamed, or a client-mode connection
        return None
    version = (metadata or {}).get("ray_version")
    return str(version) if version else None


def check_address(address: str | None) -> str | None:
    """The address Ray is given (``None``: start an instance here), or :class:`BadInput` for
    one that names no cluster: a typo is the caller's, not an unreachable cluster."""
    if address in (None, "", LOCAL):
        return None
    if address == "auto":
        return address
    _host_port(address)
    return address


def _host_port(address: str) -> tuple[str, int]:
    try:
        parts = urlsplit(address if "://" in address else f"//{address}")
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is no number, or out of range
        host = port = None
    if host is None or port is None or parts.scheme not in ("", "ray"):
        raise BadInput(
            f"Ray address {address!r}: give local, auto, host:port or ray://host:port",
            detail={"address": address},
        )
    return host, port


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail within ``timeout`` seconds when nothing listens at ``address`` (Ray itself
    retries for a long time before giving up)."""
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ClusterUnavailable(
            f"cannot reach the Ray cluster at {address} within {timeout:g} s: {reason}"
        ) from exc
