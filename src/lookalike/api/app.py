"""The application factory: one process, one engine, every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from lookalike import __version__
from lookalike.api.docs import install_docs
from lookalike.api.errors import install_error_handlers
from lookalike.api.limits import BodyLimit
from lookalike.api.metrics import Metrics, MetricsMiddleware
from lookalike.api.security import RequestGuard, require_key
from lookalike.api.state import ServerState
from lookalike.config import Settings
from lookalike.engine import Engine


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The server's app. It owns ``engine`` (made from ``settings`` if not given) and closes it
    on shutdown."""
    settings = settings or (engine.settings if engine else Settings.load())
    engine = engine or Engine(settings)
    engine.keep_decode_workers()  # jobs reuse warm workers and the models they loaded
    state = ServerState(settings=settings, engine=engine)
    metrics = state.extras.setdefault("metrics", Metrics())
    engine.ingest_listeners.append(metrics.observe_ingest)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for close in state.extras.get("on_shutdown", []):
                close()
            engine.close()

    app = FastAPI(
        title="lookalike",
        version=__version__,
        description="Self-hosted visual search: collections, records, search, duplicates.",
        lifespan=lifespan,
        dependencies=[Depends(require_key)],
        docs_url=None,  # served from the package by install_docs: no CDN
        redoc_url=None,
    )
    install_docs(app)
    app.state.lookalike = state
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(
        RequestGuard,
        allowed_hosts=tuple(settings.allowed_hosts),
        cors_origins=tuple(settings.cors_origins),
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts 413s too
    for router in _routers():
        app.include_router(router)
    return app


def _routers() -> list[APIRouter]:
    """Every router of the server, in the order their paths should appear in /docs."""
    from lookalike.api import routes

    return list(routes.ROUTERS)
