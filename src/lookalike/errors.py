"""The exception tree of lookalike.

Every error a user can cause or meet is one of these; each class carries the HTTP status the
API answers with and the exit code the CLI ends with, so both map errors in one place::

    LookalikeError                    500 / 1
    ├── BadInput                      400 / 2
    │   ├── BadImage                  400 / 2   corrupt, truncated, empty, not an image
    │   ├── UnsupportedFormat         415 / 2   an image format we cannot decode
    │   ├── ImageTooLarge             413 / 2   pixel limit (decompression bombs), byte limit
    │   ├── InvalidFilter             400 / 2   a filter we cannot translate
    │   ├── InvalidQuery              400 / 2
    │   ├── UnsafeImage               422 / 2   refused by moderation (``on_unsafe`` reject)
    │   ├── FetchError                400 / 2   a URL that could not be fetched
    │   │   └── ForbiddenAddress      400 / 2   loopback / private / link-local, not allowed
    │   └── ForbiddenPath             400 / 2   a server-side path outside the allowed roots
    ├── NotFound                      404 / 3   unknown collection or record
    ├── Conflict                      409 / 4   exists already, other signals or options
    │   ├── ModelMismatch             409 / 4   vectors of another model or precision
    │   ├── StoreLocked               409 / 4   another process holds the collection
    │   └── NameTaken                 409 / 4   a collection's or an alias's name is taken
    ├── ModelUnavailable              503 / 5   model files missing and not downloadable
    ├── StoreUnavailable              503 / 5   the store failed, or the server cannot be reached
    │   └── DiskFull                  507 / 5   the data folder's free-space reserve is reached
    ├── MissingExtra                  503 / 5   an optional extra is not installed
    ├── ClusterUnavailable            503 / 5   a Ray cluster unreachable or of another version
    ├── Busy                          503 / 5   too much expensive work queued: retry later
    └── Unauthorized                  401 / 6   a server wants an API key
        └── Forbidden                 403 / 6   a server refused the API key given

Library code raises these and never prints or exits. An error that travels as its ``code`` (an
ingest report, an HTTP error body) is typed again by :func:`error_class`.
"""

from __future__ import annotations

from typing import Any


class LookalikeError(Exception):
    """Base of all lookalike errors."""

    status: int = 500
    exit_code: int = 1
    code: str = "internal_error"

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class BadInput(LookalikeError):
    status, exit_code, code = 400, 2, "bad_input"


class BadImage(BadInput):
    code = "bad_image"


class UnsupportedFormat(BadInput):
    status, code = 415, "unsupported_format"


class ImageTooLarge(BadInput):
    status, code = 413, "too_large"


class InvalidFilter(BadInput):
    code = "invalid_filter"


class InvalidQuery(BadInput):
    code = "invalid_query"


class UnsafeImage(BadInput):
    status, code = 422, "unsafe_image"


class FetchError(BadInput):
    code = "fetch_failed"


class ForbiddenAddress(FetchError):
    code = "forbidden_address"


class ForbiddenPath(BadInput):
    code = "forbidden_path"


class NotFound(LookalikeError):
    status, exit_code, code = 404, 3, "not_found"


class Conflict(LookalikeError):
    status, exit_code, code = 409, 4, "conflict"


class ModelMismatch(Conflict):
    """Vectors of one model (or precision: fp32, int8) would meet a collection of another."""

    code = "model_mismatch"


class StoreLocked(Conflict):
    code = "store_locked"


class NameTaken(Conflict):
    """An alias named like a collection, or a collection named like an alias: one name, one
    meaning."""

    code = "name_taken"


class ConfigChanged(Conflict):
    """A collection's configuration changed since it was read (another process wrote it): a
    change made on the condition that it had not was refused. Read it again and retry."""

    code = "config_changed"


class ModelUnavailable(LookalikeError):
    status, exit_code, code = 503, 5, "model_unavailable"


class StoreUnavailable(LookalikeError):
    status, exit_code, code = 503, 5, "store_unavailable"


class DiskFull(StoreUnavailable):
    status, code = 507, "disk_full"


class MissingExtra(LookalikeError):
    status, exit_code, code = 503, 5, "missing_extra"


class ClusterUnavailable(LookalikeError):
    status, exit_code, code = 503, 5, "cluster_unavailable"


class Busy(LookalikeError):
    """Expensive work (copy searches) is queued up to its bound: retry in ``retry_after`` s."""

    status, exit_code, code = 503, 5, "busy"

    def __init__(self, message: str, *, retry_after: float = 1.0, detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class Unauthorized(LookalikeError):
    status, exit_code, code = 401, 6, "unauthorized"


class Forbidden(Unauthorized):
    status, code = 403, "forbidden"


def error_class(
    code: str | None, default: type[LookalikeError] = LookalikeError
) -> type[LookalikeError]:
    """The class whose ``code`` this is, else ``default``: the code is all a report or an
    error body keeps of the error, and a code of another server (``validation_error``) or of a
    newer version of this one must still give a typed error."""
    found: list[type[LookalikeError]] = [LookalikeError]
    while found:
        cls = found.pop()
        if cls.code == code:
            return cls
        found.extend(cls.__subclasses__())
    return default
