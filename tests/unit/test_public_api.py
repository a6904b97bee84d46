"""The public surface says what it holds: every name in ``__all__`` exists and is documented, and
nothing of lookalike's own is exported by accident."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PUBLIC = ("lookalike", "lookalike.client", "lookalike.types", "lookalike.interface")
"""The modules a program imports from (docs/python-api.md)."""


def _documented() -> set[str]:
    text = (DOCS / "python-api.md").read_text(encoding="utf-8")
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


@pytest.mark.parametrize("name", PUBLIC)
def test_every_exported_name_exists_and_is_documented(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not have: {missing}"
    undocumented = sorted(set(exported) - _documented())
    assert not undocumented, f"not in docs/python-api.md: {undocumented}"


@pytest.mark.parametrize("name", ["lookalike", "lookalike.client"])
def test_nothing_public_is_left_out_of_all(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        n
        for n, value in vars(module).items()
        if not n.startswith("_")
        and not inspect.ismodule(value)
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith("lookalike")
    }
    assert public <= set(module.__all__), sorted(public - set(module.__all__))
