"""Every error leaves the server as ``{"error": {"code", "message", "detail"}}`` with the status
its type carries; an unexpected one is a 500 without a stack trace."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from lookalike.errors import Busy, LookalikeError

log = logging.getLogger("lookalike.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    code: str
    message: str
    detail: Any = None


class ErrorResponse(BaseModel):
    """The body of every error response, in the OpenAPI schema."""

    error: ErrorBody


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: these statuses answer with :class:`ErrorResponse` (422
    included, replacing FastAPI's own validation schema, which this server never sends)."""
    return {
        status: {"model": ErrorResponse, "description": _HTTP_CODES.get(status, "error")}
        for status in statuses
    }


class HTTPError(HTTPException):
    """An HTTP error with lookalike's ``detail``: what code may raise where the framework lets
    only an :class:`HTTPException` through as it is (while it reads a body, it makes any other
    error a 400)."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(status, message)
        self.error_detail = detail


UNREADABLE_JSON = (RecursionError, UnicodeDecodeError)
"""What the JSON parser raises besides a decode error: nesting deeper than the interpreter's
recursion limit, bytes that are no UTF-8. Both are invalid JSON to a client."""


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    """lookalike's error body (the compatibility routes add their own fields beside it)."""
    return {"error": {"code": code, "message": message, "detail": detail}}


def http_code(status: int) -> str:
    """The ``code`` of an error the framework raised (an HTTP status, not a lookalike error)."""
    return _HTTP_CODES.get(status, "error")


def error_response(
    status: int,
    code: str,
    message: str,
    detail: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = error_body(code, message, detail)
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """The 422 of a body or parameter that does not validate, naming the first bad field."""
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return error_response(422, "validation_error", f"{where}: {first['msg']}", errors)


def unreadable_json(exc: HTTPException) -> RequestValidationError | None:
    """The framework's 400 for a JSON body its parser could not read but that raised no
    decode error (:data:`UNREADABLE_JSON`), as the validation error of invalid JSON it is."""
    cause = exc.__cause__
    if exc.status_code != 400 or not isinstance(cause, UNREADABLE_JSON):
        return None
    reason = "nested too deeply" if isinstance(cause, RecursionError) else "not UTF-8"
    return RequestValidationError(
        [{"type": "json_invalid", "loc": ("body",), "msg": f"JSON decode error ({reason})"}]
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LookalikeError)
    async def _lookalike(_: Request, exc: LookalikeError) -> JSONResponse:
        headers = None
        if isinstance(exc, Busy):
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        return error_response(exc.status, exc.code, exc.message, exc.detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        invalid = unreadable_json(exc)
        if invalid is not None:
            return validation_response(invalid)
        code = http_code(exc.status_code)
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        detail = exc.error_detail if isinstance(exc, HTTPError) else None
        return error_response(exc.status_code, code, message, detail, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error; see the server log")
