"""A signal whose preparer kills its worker process on one image: a stand-in for a decoder
that segfaults on a hostile file (module-level, so spawned workers can import it)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from lookalike.images import DecodedImage
from lookalike.scoring import Calibration
from lookalike.store.base import Vector, VectorSpec

CRASH_WIDTH = 37
"""Images exactly this wide crash the worker."""


def crash_on_width(decoded: DecodedImage) -> int:
    if decoded.width == CRASH_WIDTH:
        os._exit(3)
    return decoded.width


class CrashingSignal:
    name = "crashing"
    min_side = 64
    preparer = staticmethod(crash_on_width)
    calibration = Calibration.of([(0.0, 0.0), (1.0, 1.0)])
    model_id = None

    def vector_specs(self) -> list[VectorSpec]:
        return []

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        return [{} for _ in prepared]

    def payload(self, prepared: Any) -> dict[str, Any]:
        return {}
