"""Serving under a sub-path behind a reverse proxy (``root_path``, e.g. ``/search``).

Proxies differ: some strip the prefix before forwarding (nginx ``proxy_pass .../;``), some keep
it. This middleware brings both to the ASGI form, where ``path`` holds ``root_path``: routes then
match, and every URL the server writes (redirects, the docs page, ``thumbnail_url``) carries the
prefix the browser sees. A request without the prefix (straight to the port) is served too."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class RootPath:
    """Pure ASGI middleware; ``root_path`` is ``""`` or ``/a/b`` (no trailing slash)."""

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = dict(scope)
            root = self.root_path
            scope["root_path"] = root
            path: str = scope["path"]
            if path != root and not path.startswith(root + "/"):
                scope["path"] = root + path
                raw = scope.get("raw_path")
                if raw is not None:
                    scope["raw_path"] = root.encode() + raw
        await self.app(scope, receive, send)


def route_path(scope: Scope) -> str:
    """The path a route sees: ``path`` without ``root_path``."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path
