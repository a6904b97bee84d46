"""The routers; each module holds one part of the API."""

from __future__ import annotations

from fastapi import APIRouter

from lookalike.api.routes import health, page

ROUTERS: list[APIRouter] = [health.router, page.router]
