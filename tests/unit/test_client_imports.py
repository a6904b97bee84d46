"""The SDK runs where the core's heavy dependencies are not installed: importing it loads none
of them (checked in a fresh interpreter, since this one has loaded them already)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lookalike

HEAVY = ("numpy", "PIL", "cv2", "onnxruntime", "qdrant_edge", "fastembed")


def _loaded_after(statement: str) -> list[str]:
    code = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    src = str(Path(lookalike.__file__).resolve().parents[1])  # the lookalike under test
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-c", code]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60, env=env)
    return list(json.loads(out.stdout))


def test_importing_the_sdk_loads_no_heavy_dependency() -> None:
    assert _loaded_after("import lookalike.client") == []
    assert _loaded_after("from lookalike.client import AsyncClient, Client, RemoteCollection") == []


def test_the_shared_types_load_no_heavy_dependency() -> None:
    assert _loaded_after("import lookalike.types, lookalike.interface, lookalike.sources") == []


def test_the_check_sees_a_heavy_import() -> None:
    """The probe itself works: the engine does load them."""
    assert "numpy" in _loaded_after("import lookalike.engine")
