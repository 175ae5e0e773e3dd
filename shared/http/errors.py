"""Exception handlers: every error leaves as the JSON error shape with its status."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.errors import ParleyError, error_body

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}
_MESSAGES = {404: "No such route.", 405: "That method is not allowed on this route."}


async def parley_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ParleyError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "http_error")
    message = _MESSAGES.get(exc.status_code) or str(exc.detail)
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


EXCEPTION_HANDLERS = {ParleyError: parley_error, HTTPException: http_error}
