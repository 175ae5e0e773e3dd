"""Errors that carry their HTTP status, and the one function that shapes error bodies.

Every error response in Parley is ``{"error": {"code": "snake_case", "message": "..."}}``.
Raise a subclass of :class:`ParleyError` anywhere below a handler and the exception
handlers in :mod:`shared.http` turn it into that body with the right status::

    raise NotFoundError("bot", bot_id)   # -> 404 {"error": {"code": "not_found", ...}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {"error": {"code": code, "message": message, **extra}}


class ParleyError(Exception):
    """Base class: an error with a status, a stable code and a human message."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Something went wrong on our side."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code  # type: ignore[misc]  # per-instance override of the class code
        self.headers = dict(headers or {})
        self.details = dict(details or {})
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, **self.details)


class BadRequestError(ParleyError):
    status = 400
    code = "bad_request"
    default_message = "The request could not be understood."


class UnauthorizedError(ParleyError):
    status = 401
    code = "unauthorized"
    default_message = "Missing or invalid credentials."


class ForbiddenError(ParleyError):
    status = 403
    code = "forbidden"
    default_message = "You are not allowed to do that."


class NotFoundError(ParleyError):
    status = 404
    code = "not_found"
    default_message = "Not found."

    def __init__(self, kind: str | None = None, ident: object = None, **kwargs: Any) -> None:
        message = kwargs.pop("message", None)
        if message is None and kind is not None:
            message = f"No {kind} {ident}." if ident is not None else f"No such {kind}."
        super().__init__(message, **kwargs)


class MethodNotAllowedError(ParleyError):
    status = 405
    code = "method_not_allowed"
    default_message = "That method is not allowed here."


class ConflictError(ParleyError):
    status = 409
    code = "conflict"
    default_message = "That conflicts with the current state."


class PayloadTooLargeError(ParleyError):
    status = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class ValidationError(ParleyError):
    status = 422
    code = "validation_error"
    default_message = "The request is not valid."


class RateLimitedError(ParleyError):
    status = 429
    code = "rate_limited"
    default_message = "Too many requests; try again shortly."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(message, headers={"Retry-After": str(seconds)})
        self.retry_after = seconds


class ServiceUnavailableError(ParleyError):
    status = 503
    code = "service_unavailable"
    default_message = "A service Parley depends on is unavailable; try again shortly."


class DatabaseUnavailableError(ServiceUnavailableError):
    code = "database_unavailable"
    default_message = "The database is unavailable; try again shortly."
