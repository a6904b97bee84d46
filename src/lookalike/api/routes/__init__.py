"""The routers; each module holds one part of the API."""

from __future__ import annotations

from fastapi import APIRouter

from lookalike.api.compat import vecstore, ximilar
from lookalike.api.routes import (
    aliases,
    backup,
    catalog,
    collections,
    dismissed,
    duplicates,
    evaluation,
    fields,
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
    aliases.router,
    backup.router,
    catalog.router,
    records.router,
    fields.router,
    search.router,
    duplicates.router,
    dismissed.router,
    evaluation.router,
    people.router,
    moderation.router,
    jobs.router,
    vecstore.router,
    ximilar.router,
    page.router,
]
