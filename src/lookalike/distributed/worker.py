"""The work a cluster worker does: prepare and embed a batch of images with the signals it
built once (the same :func:`~lookalike.decode_workers.prepare` and
:func:`~lookalike.ingest.embed_batch` a local ingest runs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lookalike.config import Settings
from lookalike.decode_workers import DecodePlan, Prepared, prepare
from lookalike.errors import LookalikeError
from lookalike.ingest import embed_batch, signal_payload
from lookalike.signals import build_signal
from lookalike.store.base import Vector
from lookalike.types import Precision, SemanticInput


@dataclass(frozen=True)
class Job:
    """One image to prepare: read from ``path`` by the worker, or given as ``data``."""

    path: str | None
    data: bytes | None
    source: str
    known_hash: str | None = None
    """Content hash already stored with the current model: an image that still has it is
    not embedded again (the driver reports it unchanged)."""


Failed = tuple[str, str]
"""(error code, message) of an image that could not be prepared."""


@dataclass
class BatchResult:
    prepared: list[Prepared | Failed]
    vectors: list[dict[str, Vector] | None]
    embed_ms: dict[str, float]


class SignalWorker:
    """A cluster worker (run as a Ray actor): builds the collection's signals once, with the
    semantic model on the GPU Ray gave it, if any."""

    def __init__(
        self,
        names: Sequence[str],
        settings: Settings,
        model: str,
        dims: dict[str, Any],
        precision: Precision = "fp32",
        semantic_input: SemanticInput = "shared",
    ):
        import ray

        self.gpus = [str(g) for g in ray.get_gpu_ids()]
        self.signals = [
            build_signal(
                n,
                settings,
                model=model,
                dim=dims.get(n),
                precision=precision,
                gpu=bool(self.gpus),
                semantic_input=semantic_input,
            )
            for n in names
        ]

    def process(self, plan: DecodePlan, jobs: Sequence[Job]) -> BatchResult:
        prepared: list[Prepared | Failed] = []
        for job in jobs:
            try:
                prepared.append(prepare(plan, job.path, job.data, job.source))
            except LookalikeError as exc:
                prepared.append((exc.code, exc.message))
            except Exception as exc:  # a decoder bug costs one item, not the batch
                prepared.append(("internal_error", f"{job.source}: {type(exc).__name__}: {exc}"))
        todo = [
            n
            for n, (job, p) in enumerate(zip(jobs, prepared, strict=True))
            if isinstance(p, Prepared) and p.content_hash != job.known_hash
        ]
        vectors: list[dict[str, Vector] | None] = [None] * len(jobs)
        embed_ms: dict[str, float] = {}
        if todo:
            batch = [prepared[n] for n in todo]
            made, embed_ms = embed_batch(self.signals, batch)  # type: ignore[arg-type]
            for n, v in zip(todo, made, strict=True):
                vectors[n] = v
        for p in prepared:
            if isinstance(p, Prepared):  # the driver needs the payload, not the outputs
                p.payload, p.outputs = signal_payload(self.signals, p), {}
        return BatchResult(prepared, vectors, embed_ms)

    def pid(self) -> int:
        """This worker's process id (answered once the signals are built: the worker is up)."""
        import os

        return os.getpid()

    def devices(self) -> dict[str, str]:
        """Where each signal with a model runs (``cpu`` or ``cuda``), and the GPUs given."""
        out = {s.name: str(getattr(s, "device", "cpu")) for s in self.signals}
        return {**out, "gpus": ",".join(self.gpus)}
