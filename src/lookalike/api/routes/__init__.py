"""The routers; each module holds one part of the API."""

from __future__ import annotations

from fastapi import APIRouter

from lookalike.api.routes import duplicates, health, metrics, search

ROUTERS: list[APIRouter] = [health.router, metrics.router, search.router, duplicates.router]
