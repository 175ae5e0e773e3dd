"""Reading path and query parameters with clear 4xx errors, and JSON responses from models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.errors import ValidationError

MAX_PAGE = 200


def path_uuid(request: Request, name: str) -> UUID:
    raw = request.path_params[name]
    try:
        return UUID(str(raw))
    except ValueError:
        raise ValidationError(f"{name}: not a valid id", code="invalid_id") from None


def query_text(request: Request, name: str, *, max_length: int = 500) -> str | None:
    """A free-text query parameter, stripped; None when absent or empty. PostgreSQL text
    cannot hold a NUL character, so one is a 422 here rather than a 500 there."""
    raw = (request.query_params.get(name) or "").strip()
    if "\x00" in raw:
        raise ValidationError(f"{name}: must not contain a NUL character")
    if len(raw) > max_length:
        raise ValidationError(f"{name}: at most {max_length} characters")
    return raw or None


def query_uuid(request: Request, name: str) -> UUID | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise ValidationError(f"{name}: not a valid id", code="invalid_id") from None


def query_int(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"{name}: must be a whole number") from None
    if not low <= value <= high:
        raise ValidationError(f"{name}: must be between {low} and {high}")
    return value


def query_time(request: Request, name: str) -> datetime | None:
    """An ISO 8601 date or time; naive values are taken as UTC."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"{name}: must be an ISO 8601 date or time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def paging(request: Request) -> tuple[int, int]:
    limit = query_int(request, "limit", default=50, low=1, high=MAX_PAGE)
    offset = query_int(request, "offset", default=0, low=0, high=10_000_000)
    return limit, offset


def page_of(
    model: type[BaseModel], rows: list[dict[str, Any]], limit: int, offset: int
) -> Response:
    """One page of rows, each shaped by ``model``; ``next_offset`` is null on the last page."""
    return respond(
        {
            "items": [model.model_validate(row).model_dump(mode="json") for row in rows],
            "limit": limit,
            "offset": offset,
            "next_offset": offset + limit if len(rows) == limit else None,
        }
    )


def respond(
    model: BaseModel | dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    return JSONResponse(body, status_code=status, headers=headers)
