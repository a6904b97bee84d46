"""The routers; each module holds one part of the API."""

from __future__ import annotations

from fastapi import APIRouter

from lookalike.api.routes import (
    collections,
    compat_vecstore,
    compat_ximilar,
    health,
    jobs,
    records,
)

ROUTERS: list[APIRouter] = [
    health.router,
    collections.router,
    records.router,
    jobs.router,
    compat_vecstore.router,
    compat_ximilar.router,
]
