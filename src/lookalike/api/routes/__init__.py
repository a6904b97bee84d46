"""The routers; each module holds one part of the API."""

from __future__ import annotations

from fastapi import APIRouter

from lookalike.api.routes import collections, health, jobs, records

ROUTERS: list[APIRouter] = [health.router, collections.router, records.router, jobs.router]
