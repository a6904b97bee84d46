"""Who may use the server: API keys (``X-API-Key``, ``Authorization: Bearer KEY`` or
``Authorization: Token KEY``, the form the Ximilar-style clients send, compared in constant
time), and which browser requests are let through (the host they name, the origin of a
write)."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lookalike.api.errors import error_response
from lookalike.api.prefix import route_path
from lookalike.api.state import state_of

OPEN_PATHS = frozenset({"/health", "/", "/favicon.ico"})
"""Reachable without a key: the liveness probe and the page shell (the page asks for a key)."""


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    # "JWT": the Ximilar client's scheme for tokens of 70 characters or more
    if scheme.lower() in ("bearer", "token", "jwt") and value.strip():
        return value.strip()
    return None


def key_is_valid(key: str | None, keys: tuple[str, ...]) -> bool:
    if key is None:
        return False
    given = key.encode()
    ok = False
    for k in keys:  # every key is compared, so the time does not tell which one nearly matched
        ok |= hmac.compare_digest(given, k.encode())
    return ok


async def require_key(request: Request) -> None:
    """Router dependency: with keys configured, every route but OPEN_PATHS needs one (async:
    no blocking work, so no worker thread; see :func:`~lookalike.api.state.get_state`)."""
    keys = state_of(request).settings.api_keys
    path = route_path(request.scope)
    if not keys or path in OPEN_PATHS or path.startswith("/static/"):
        return
    key = presented_key(request)
    if key is None:
        raise HTTPException(
            401,
            "an API key is needed (X-API-Key or Authorization: Bearer)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not key_is_valid(key, keys):
        raise HTTPException(403, "the API key is not valid")


# -- which requests a browser may send ---------------------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing: any origin may send them (the browser keeps the answer from a
page of another origin unless ``cors_origins`` lets it read)."""


def _split_host(value: str) -> tuple[str, str]:
    """``(name, port)`` of a Host header or an origin's authority; the name in lower case,
    without IPv6 brackets or a trailing dot."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        return name, rest.removeprefix(":")
    name, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return name.rstrip("."), port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _named(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether host ``name`` is one of ``patterns`` (``.example.com``: it and its subdomains)."""
    for pattern in patterns:
        pattern = pattern.strip().lower().rstrip(".")
        if pattern.startswith("."):
            if name == pattern[1:] or name.endswith(pattern):
                return True
        elif name == pattern:
            return True
    return False


def trusted_host(host: str, allowed_hosts: tuple[str, ...]) -> bool:
    """Whether a request naming ``host`` is meant for this server: an IP address, a localhost
    name, or one of ``allowed_hosts`` (``*``: any). A name outside them is how a page of
    another site reaches a server on localhost after re-pointing its own name there (DNS
    rebinding); an IP address cannot be re-pointed."""
    if "*" in allowed_hosts:
        return True
    name, _ = _split_host(host)
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost") or _is_ip(name):
        return True
    return _named(name, allowed_hosts)


def trusted_origin(
    headers: Headers, *, allowed_hosts: tuple[str, ...], cors_origins: tuple[str, ...]
) -> bool:
    """Whether a write comes from this server's own page, a listed origin, or no page at all
    (the CLI, the SDK and scripts send no ``Origin``). A page of another site can send a form
    or a ``text/plain`` body without asking first, so its writes are refused here."""
    origin = headers.get("origin")
    if origin is None:
        return headers.get("sec-fetch-site", "none") not in ("cross-site", "same-site")
    if "*" in cors_origins or origin in cors_origins:
        return True
    scheme, sep, authority = origin.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not authority:
        return False  # "null": a sandboxed frame, a file
    name, port = _split_host(authority)
    for host in (headers.get("host"), headers.get("x-forwarded-host")):
        if host is not None and _split_host(host) == (name, port):
            return True
    return "*" not in allowed_hosts and _named(name, allowed_hosts)


class RequestGuard:
    """Pure ASGI middleware: refuses a request naming a ``Host`` this server does not answer
    to (400), and a write sent by a page of another origin (403)."""

    def __init__(
        self, app: ASGIApp, *, allowed_hosts: tuple[str, ...], cors_origins: tuple[str, ...]
    ) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.cors_origins = cors_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")
        if host is not None and not trusted_host(host, self.allowed_hosts):
            name, _ = _split_host(host)
            message = (
                f"this server does not answer to the host name {name[:200]!r}: add it to "
                "allowed_hosts (LOOKALIKE_ALLOWED_HOSTS) if clients use it"
            )
            await _refuse(scope, send, 400, "untrusted_host", message)
            return
        if scope["method"] not in SAFE_METHODS and not trusted_origin(
            headers, allowed_hosts=self.allowed_hosts, cors_origins=self.cors_origins
        ):
            origin = headers.get("origin") or headers.get("sec-fetch-site", "")
            message = (
                f"writes from a page of another origin ({origin[:200]}) are refused; list the "
                "origin in cors_origins (LOOKALIKE_CORS_ORIGINS) to allow it"
            )
            await _refuse(scope, send, 403, "cross_origin", message)
            return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    await error_response(status, code, message)(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
