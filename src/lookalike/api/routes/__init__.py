"""The routers; each module holds one part of the API."""

from __future__ import annotations

from fastapi import APIRouter

from lookalike.api.routes import compat_vecstore, compat_ximilar, health

ROUTERS: list[APIRouter] = [health.router, compat_vecstore.router, compat_ximilar.router]
