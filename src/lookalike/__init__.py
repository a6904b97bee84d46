"""lookalike: self-hosted visual search."""

from lookalike.config import Settings
from lookalike.engine import Collection, Engine
from lookalike.errors import LookalikeError
from lookalike.ingest import IngestReport
from lookalike.search import SearchResult

__all__ = ["Collection", "Engine", "IngestReport", "LookalikeError", "SearchResult", "Settings"]
__version__ = "0.1.0"
