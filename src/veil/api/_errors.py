"""One error model, one table from Veil errors to HTTP statuses."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from veil.errors import (
    AccessDenied,
    AuthenticationFailed,
    ConfigurationError,
    Conflict,
    DecryptionFailed,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    RateLimited,
    StorageUnavailable,
    VeilError,
)

__all__ = ["STATUS_BY_ERROR", "error_response", "install_error_handlers"]

log = logging.getLogger("veil.api")

STATUS_BY_ERROR: dict[type[VeilError], int] = {
    InvalidInput: 422,
    AuthenticationFailed: 401,
    NotFound: 404,
    AccessDenied: 403,
    Conflict: 409,
    QuotaExceeded: 429,
    RateLimited: 429,
    StorageUnavailable: 503,
    DecryptionFailed: 500,
    ConfigurationError: 500,
}

_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]{0,39}")

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


def error_response(
    request: Request | None,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Build ``{"error": {"code", "message", "request_id"}}`` with `status`."""
    request_id = getattr(request.state, "request_id", None) if request is not None else None
    body = {"error": {"code": code, "message": message, "request_id": request_id}}
    return JSONResponse(body, status_code=status, headers=headers)


def _location(part: object) -> str:
    # An unknown field's name is the client's text and may be a phone number or
    # a name; only names shaped like Veil's own fields are repeated back.
    if isinstance(part, int) or (isinstance(part, str) and _FIELD_NAME.fullmatch(part)):
        return str(part)
    return "<unknown field>"


def status_for(error: VeilError) -> int:
    """Return the HTTP status of a Veil error (500 for anything unlisted)."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through the one error model; 500s stay opaque."""

    @app.exception_handler(VeilError)
    async def _veil_error(request: Request, exc: VeilError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500 and status != 503:
            log.error("internal error %s on %s", type(exc).__name__, request.url.path)
            return error_response(request, 500, "internal_error", "internal error")
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        if status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return error_response(request, status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Say where and what, never echo the submitted value: it may be a phone number.
        problems = []
        for error in exc.errors()[:10]:
            where = ".".join(_location(part) for part in error.get("loc", ()) if part != "body")
            problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
        return error_response(request, 422, "invalid_input", "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES_BY_STATUS.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(request, exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
        return error_response(request, 500, "internal_error", "internal error")
