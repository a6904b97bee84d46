"""lookalike: self-hosted visual search.

The engine is imported on first use of ``lookalike.Engine`` (or ``Collection``), not with the
package: ``import lookalike.client`` then stays free of the core's decoders and models."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lookalike.config import Settings
from lookalike.errors import LookalikeError
from lookalike.types import IngestReport, SearchResult
from lookalike.version import __version__ as __version__

if TYPE_CHECKING:
    from lookalike.engine import Collection, Engine

__all__ = ["Collection", "Engine", "IngestReport", "LookalikeError", "SearchResult", "Settings"]

_LAZY = {"Collection": "lookalike.engine", "Engine": "lookalike.engine"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lookalike' has no attribute {name!r}")
