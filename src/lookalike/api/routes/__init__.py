"""The routers; each module holds one part of the API."""

from __future__ import annotations

from fastapi import APIRouter

from lookalike.api.routes import (
    collections,
    compat_vecstore,
    compat_ximilar,
    duplicates,
    health,
    jobs,
    metrics,
    moderation,
    page,
    people,
    records,
    search,
)

ROUTERS: list[APIRouter] = [
    health.router,
    metrics.router,
    collections.router,
    records.router,
    search.router,
    duplicates.router,
    people.router,
    moderation.router,
    jobs.router,
    compat_vecstore.router,
    compat_ximilar.router,
    page.router,
]
