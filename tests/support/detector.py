"""The YOLO-format object detector the tests run: NudeNet's export, shipped in its wheel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

NUDENET = Path(importlib.util.find_spec("nudenet").origin or "").parent / "320n.onnx"  # type: ignore[union-attr]
