"""Application logs: one setup for the server and the CLI, plain text or one JSON object a line.

A request id travels in a context variable, so every line logged while a request is served
carries it (the API sets it from ``X-Request-ID`` or makes one, and returns it in that header).
Secrets never reach a log: :func:`settings_summary` masks every key.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

from lookalike.config import Settings

__all__ = ["REQUEST_ID", "configure", "settings_summary"]

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "lookalike_request_id", default=None
)

_SECRET = ("api_key", "api_keys", "store_api_key")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None:
                out[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [{rid}]" if rid else line


def configure(settings: Settings, *, level: str | None = None) -> None:
    """Send the ``lookalike`` and ``uvicorn`` loggers to stderr in the configured format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(_RequestId())
    chosen = (level or settings.log_level).upper()
    for name in ("lookalike", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(chosen)
        logger.propagate = False


def settings_summary(settings: Settings) -> dict[str, Any]:
    """The settings worth logging at start, keys masked."""
    out: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if name in _SECRET:
            value = mask(value)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def mask(value: Any) -> Any:
    """``***`` for each secret given; None and empty stay as they are."""
    if value is None or value == () or value == "":
        return value
    if isinstance(value, (list, tuple)):
        return ["***" for _ in value]
    return "***"
