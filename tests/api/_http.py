"""Helpers for HTTP tests: headers, the error model, and a check that no PII leaks."""

from __future__ import annotations

import warnings
from typing import Any

import httpx
from starlette.exceptions import StarletteDeprecationWarning

from tests._city import ALICE, BOB
from veil.ids import IdKind, is_id, new_id

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 and warns once at import when it finds httpx;
    # the test client behaves the same with either.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = [
    "CITY_PII",
    "MAX_BODY",
    "TestClient",
    "absent",
    "assert_no_pii",
    "bearer",
    "error_of",
    "without_request_id",
]

# Small enough that oversized bodies are cheap to send, large enough for real requests.
MAX_BODY = 64 * 1024

# Every plaintext value the test city stores; none may appear in an error.
CITY_PII = (
    ALICE[0],
    BOB[0],
    "13800138001",
    "13800138002",
    "0013 8001",
    *(part for _, _, address in (ALICE, BOB) for part in (address.room, address.street)),
)


def bearer(api_key: str) -> dict[str, str]:
    """Return the Authorization header for `api_key`."""
    return {"Authorization": f"Bearer {api_key}"}


def absent(kind: IdKind = IdKind.ORDER) -> str:
    """Return a well-formed id that names nothing."""
    return new_id(kind)


def error_of(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert `response` is `status` in Veil's one error model; return the ``error`` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) == {"code", "message", "request_id"}, error
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    assert is_id(error["request_id"], IdKind.REQUEST), error
    assert response.headers["X-Request-ID"] == error["request_id"]
    return dict(error)


def without_request_id(response: httpx.Response) -> tuple[int, bytes]:
    """Return the status and the body with the request id blanked, for byte comparison."""
    request_id = response.headers.get("X-Request-ID", "")
    body = response.content
    if request_id:
        body = body.replace(request_id.encode(), b"req_")
    return response.status_code, body


def assert_no_pii(response: httpx.Response, *values: str) -> None:
    """Assert that none of `values` (or the city's PII) appears in `response`'s body."""
    text = response.content.decode("utf-8", errors="replace")
    for value in (*CITY_PII, *values):
        if value:
            assert value not in text, f"{value!r} leaked in {response.status_code}: {text}"
