"""What a new collection can be made with on this server: the signals, the known semantic
models and the server's defaults. The page's New collection dialog offers these."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lookalike.api.state import State
from lookalike.models.specs import MODELS
from lookalike.signals import KNOWN

router = APIRouter(tags=["collections"])


@router.get("/catalog")
def catalog(state: State) -> dict[str, Any]:
    """Signals and models a collection can be created with, and the server's defaults."""
    settings = state.settings
    return {
        "signals": list(KNOWN),
        "default_signals": list(settings.default_signals),
        "models": [
            {
                "name": spec.name,
                "dim": spec.dim,
                "description": spec.description,
                "calibrated": spec.calibrated,
            }
            for spec in MODELS.values()
        ],
        "default_model": settings.default_model,
    }
