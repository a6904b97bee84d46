"""The common protocol of signals: one way of seeing an image.

A signal works in two stages so that the ingest pipeline can spread them well:
``preparer`` is a plain module-level function run in the decode worker processes on each decoded
image (cheap per-image CPU work; its result is pickled back), and :meth:`Signal.embed` runs in
the main process on a batch of prepared values (model inference, batched).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from lookalike.images import DecodedImage
from lookalike.scoring import Calibration
from lookalike.store.base import Vector, VectorSpec

Preparer = Callable[[DecodedImage], Any]


class Signal(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def min_side(self) -> int:
        """The shorter-edge size (pixels) the signal needs; images are decoded no larger."""
        ...

    @property
    def preparer(self) -> Preparer: ...

    @property
    def calibration(self) -> Calibration: ...

    @property
    def model_id(self) -> str | None:
        """What produced the vectors; a change means the records must be re-indexed."""
        ...

    def vector_specs(self) -> list[VectorSpec]: ...

    def embed(self, prepared: Sequence[Any]) -> list[dict[str, Vector]]:
        """Named vectors for each prepared image, in order."""
        ...

    def payload(self, prepared: Any) -> dict[str, Any]:
        """Payload fields the signal keeps for one image (e.g. keypoints)."""
        ...
