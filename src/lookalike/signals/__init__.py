"""The registry of signals: a row per signal in :func:`build_signal`; an unknown name is an
error, never a silent default. A signal with more than one module is a package
(``duplicate/``, ``text/``, ``faces/``); see docs/adding-a-signal.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lookalike.config import Settings
from lookalike.errors import BadInput

if TYPE_CHECKING:  # the names are parsed without loading a signal (the SDK parses them)
    from lookalike.signals.base import Signal
    from lookalike.types import Precision, SemanticInput

KNOWN = ("semantic", "duplicate", "faces", "text", "moderation", "exif", "objects")


def parse_signals(value: str | Sequence[str]) -> tuple[str, ...]:
    names = value.split(",") if isinstance(value, str) else list(value)
    out = tuple(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
    unknown = [n for n in out if n not in KNOWN]
    if unknown:
        raise BadInput(f"unknown signal(s) {', '.join(unknown)}; known: {', '.join(KNOWN)}")
    if not out:
        raise BadInput("at least one signal is needed")
    return out


def default_signal(names: Sequence[str], *, text: bool, person: bool) -> str:
    """The signal a query searches when it names none: ``faces`` for a person, else
    ``semantic`` when the collection has it or the query is a text (only it embeds texts),
    else the collection's first signal."""
    if person:
        return "faces"
    return "semantic" if "semantic" in names or text else names[0]


def build_signal(
    name: str,
    settings: Settings,
    *,
    model: str,
    dim: int | None = None,
    precision: Precision = "fp32",
    gpu: bool = False,
    semantic_input: SemanticInput = "shared",
) -> Signal:
    """The signal ``name``; ``model``, ``dim`` and ``precision`` are the semantic model's
    (the semantic and objects signals embed with it); ``gpu``: this process was given a GPU
    (a Ray worker), the semantic model runs there; ``semantic_input``: where the semantic
    tower's input comes from, as the collection records it."""
    if name == "semantic":
        from lookalike.signals.semantic import SemanticSignal

        return SemanticSignal(
            model,
            settings,
            dim,
            precision,
            device="cuda" if gpu else "cpu",
            semantic_input=semantic_input,
        )
    if name == "duplicate":
        from lookalike.signals.duplicate import DuplicateSignal

        return DuplicateSignal()
    if name == "faces":
        from lookalike.signals.faces import FaceSignal

        return FaceSignal(settings)
    if name == "text":
        from lookalike.signals.text import TextSignal

        return TextSignal()
    if name == "moderation":
        from lookalike.signals.moderation import ModerationSignal

        return ModerationSignal(settings)
    if name == "exif":
        from lookalike.signals.exif import ExifSignal

        return ExifSignal()
    if name == "objects":
        from lookalike.signals.objects import ObjectSignal

        return ObjectSignal(model, settings, dim, precision)
    raise BadInput(f"unknown signal {name!r}; known: {', '.join(KNOWN)}")
