"""What a collection's records hold, field by field, for building filters without writing
them: the metadata keys with their most common values (or a number range), the capture dates,
cameras and located photos of EXIF, and the moderation verdicts. One pass over the payloads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

MAX_VALUES = 50
"""Values listed per field, most common first; the count of distinct values says if more."""

_Scalar = str | int | float | bool


class _Field:
    def __init__(self) -> None:
        self.records = 0
        self.values: Counter[_Scalar] = Counter()
        self.numbers = 0
        self.low: float | None = None
        self.high: float | None = None

    def add(self, value: Any) -> None:
        self.records += 1
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, bool) or isinstance(v, str):
                self.values[v] += 1
            elif isinstance(v, int | float):
                self.values[v] += 1
                self.numbers += 1
                self.low = v if self.low is None else min(self.low, v)
                self.high = v if self.high is None else max(self.high, v)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"records": self.records, "distinct": len(self.values)}
        if self.numbers and self.numbers == sum(self.values.values()):
            out["kind"] = "number"
            out["min"], out["max"] = self.low, self.high
        else:
            out["kind"] = "value"
        out["values"] = [{"value": v, "count": n} for v, n in _most_common(self.values)]
        return out


def _most_common(counts: Counter[Any]) -> list[tuple[Any, int]]:
    """The MAX_VALUES most common, ties in the order of their text (stable across stores)."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:MAX_VALUES]


def summarize(payloads: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The summary of ``payloads`` (stored record payloads): ``records``, ``metadata`` (key ->
    records, distinct, kind, values, min/max for numbers), ``taken`` (first and last EXIF
    capture time), ``cameras`` (make, model, count), ``located`` (records with an EXIF place),
    ``safe`` (records per moderation verdict)."""
    records = 0
    metadata: dict[str, _Field] = {}
    cameras: Counter[tuple[str, str]] = Counter()
    taken: list[str] = []
    located = 0
    safe: Counter[bool] = Counter()
    for payload in payloads:
        records += 1
        for key, value in (payload.get("metadata") or {}).items():
            if isinstance(value, Mapping):
                continue  # nested objects: written as dotted keys by hand
            metadata.setdefault(key, _Field()).add(value)
        exif = payload.get("exif") or {}
        if isinstance(exif.get("taken_at"), str):
            taken.append(exif["taken_at"])
        if exif.get("make") or exif.get("model"):
            cameras[(str(exif.get("make") or ""), str(exif.get("model") or ""))] += 1
        if isinstance(exif.get("location"), Mapping):
            located += 1
        if isinstance(payload.get("safe"), bool):
            safe[payload["safe"]] += 1
    return {
        "records": records,
        "metadata": {k: f.to_dict() for k, f in sorted(metadata.items())},
        "taken": {"first": min(taken), "last": max(taken), "records": len(taken)}
        if taken
        else None,
        "cameras": [
            {"make": make, "model": model, "count": n} for (make, model), n in _most_common(cameras)
        ],
        "located": located,
        "safe": {"safe": safe[True], "unsafe": safe[False]} if safe else None,
    }
