"""The application factory: one process, one engine, every router."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from lookalike.api.docs import install_docs
from lookalike.api.errors import install_error_handlers
from lookalike.api.limits import BodyLimit
from lookalike.api.metrics import Metrics, MetricsMiddleware
from lookalike.api.prefix import RootPath
from lookalike.api.requestlog import RequestLog
from lookalike.api.routes.backup import RESTORE_PATH
from lookalike.api.routes.metrics import watch as watch_metrics
from lookalike.api.security import RequestGuard, require_key
from lookalike.api.state import CHANGES, ServerState
from lookalike.config import Settings
from lookalike.engine import Engine
from lookalike.ingest import IngestReport
from lookalike.version import __version__

log = logging.getLogger("lookalike.server")


def log_ingest(collection: str, report: IngestReport) -> None:
    """Each ingest's counts at info level, each failed item at warning."""
    log.info(
        "ingest into %s: %d indexed, %d failed in %.1f s",
        collection,
        report.indexed,
        len(report.failed),
        report.seconds,
        extra={"collection": collection, "indexed": report.indexed, "failed": len(report.failed)},
    )
    for outcome in report.failed[:_FAILURES_LOGGED]:
        log.warning(
            "ingest into %s: %s failed: %s",
            collection,
            outcome.source,
            outcome.message,
            extra={"collection": collection, "item": outcome.source, "code": outcome.code},
        )
    if len(report.failed) > _FAILURES_LOGGED:
        log.warning(
            "ingest into %s: %d more failures not logged (see the report)",
            collection,
            len(report.failed) - _FAILURES_LOGGED,
        )


_FAILURES_LOGGED = 100


def _freeze_startup() -> None:
    """Leave what the process made before serving (modules, classes, the app: about 135,000
    objects) out of the interpreter's full collections. A full collection holds the interpreter
    lock while it walks every tracked object, 70 to 120 ms for these alone on a 2-core machine:
    no request, ``/health`` included, is answered meanwhile. They live as long as the process,
    so walking them finds nothing."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The server's app. It owns ``engine`` (made from ``settings`` if not given) and closes it
    on shutdown."""
    settings = settings or (engine.settings if engine else Settings.load())
    engine = engine or Engine(settings)
    engine.keep_decode_workers()  # jobs reuse warm workers and the models they loaded
    engine.run_heavy_work_apart()  # searches by id and text get the cores first
    # the workers of one port tell each other of the collections they create and drop
    changes = settings.data_dir / CHANGES if settings.workers > 1 else None
    state = ServerState(settings=settings, engine=engine, changes=changes)
    metrics = state.extras.setdefault("metrics", Metrics())
    watch_metrics(metrics, state)
    engine.ingest_listeners.append(metrics.observe_ingest)
    engine.ingest_listeners.append(log_ingest)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        _freeze_startup()
        try:
            yield
        finally:
            for close in state.extras.get("on_shutdown", []):
                close()
            engine.close()
            gc.unfreeze()

    app = FastAPI(
        title="lookalike",
        version=__version__,
        description="Self-hosted visual search: collections, records, search, duplicates.",
        lifespan=lifespan,
        dependencies=[Depends(require_key)],
        docs_url=None,  # served from the package by install_docs: no CDN
        redoc_url=None,
        # a body without a Content-Type is read as JSON (docs/server.md); a page of another
        # site cannot write that way: RequestGuard refuses its writes whatever their type
        strict_content_type=False,
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
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes, unlimited=(RESTORE_PATH,))
    app.add_middleware(
        RequestGuard,
        allowed_hosts=tuple(settings.allowed_hosts),
        cors_origins=tuple(settings.cors_origins),
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # counts 413s too
    app.add_middleware(RequestLog, slow_ms=settings.slow_request_ms)  # ids all
    if settings.root_path:
        app.add_middleware(RootPath, root_path=settings.root_path)  # outermost: paths as seen
    for router in _routers():
        app.include_router(router)
    return app


def _routers() -> list[APIRouter]:
    """Every router of the server, in the order their paths should appear in /docs."""
    from lookalike.api import routes

    return list(routes.ROUTERS)
