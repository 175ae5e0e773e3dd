"""Endpoints declared as data, so routes, the OpenAPI document and checks share one list.

Endpoint("GET", "/v1/admin/tenants", list_tenants, "List tenants", response=TenantList)
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from shared import ratelimit
from shared.auth.access import Access
from shared.auth.authenticate import authenticate, bearer_token
from shared.auth.principal import Principal
from shared.errors import BadRequestError, PayloadTooLargeError, ValidationError
from shared.http.context import get_runtime
from shared.logging import append_keys

HttpHandler = Callable[[Request], Awaitable[Response]]
WsHandler = Callable[[WebSocket], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)

DEFAULT_MAX_BODY = 1_000_000


class RequestModel(BaseModel):
    """Base for request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: HttpHandler
    summary: str
    access: Access
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status_code: int = 200
    tag: str = "parley"


@dataclass(frozen=True)
class WebSocketEndpoint:
    path: str
    handler: WsHandler
    summary: str
    access: Access
    tag: str = "parley"


AnyEndpoint = Endpoint | WebSocketEndpoint


def build_routes(endpoints: Sequence[AnyEndpoint]) -> list[BaseRoute]:
    """One Starlette route per path, dispatching on the method."""
    by_path: dict[str, dict[str, HttpHandler]] = {}
    routes: list[BaseRoute] = []
    for ep in endpoints:
        if isinstance(ep, WebSocketEndpoint):
            routes.append(WebSocketRoute(ep.path, ep.handler))
            continue
        methods = by_path.setdefault(ep.path, {})
        if ep.method in methods:
            raise ValueError(f"{ep.method} {ep.path} is declared twice")
        methods[ep.method] = ep.handler if ep.access.public else _guarded(ep)
    for path, methods in by_path.items():
        routes.append(Route(path, _dispatcher(methods), methods=list(methods)))
    return routes


def _guarded(ep: Endpoint) -> HttpHandler:
    """Authenticate, check the role and the API rate limit, then run the handler."""

    async def guarded(request: Request) -> Response:
        runtime = get_runtime(request)
        token = bearer_token(request.headers.get("authorization"))
        async with runtime.db.connection() as conn:
            principal = await authenticate(conn, token, ep.access)
            if principal.credential != "publishable_key":
                await ratelimit.check(
                    conn,
                    bucket=f"api:{principal.rate_limit_key}",
                    limit=runtime.settings.api_rate_limit,
                    period=60,
                )
        request.state.principal = principal
        append_keys(tenant_id=str(principal.tenant_id) if principal.tenant_id else "*")
        return await ep.handler(request)

    return guarded


def get_principal(request: Request) -> Principal:
    """The caller, as authenticated by the route's access check."""
    principal: Principal = request.state.principal
    return principal


def _dispatcher(methods: dict[str, HttpHandler]) -> HttpHandler:
    if len(methods) == 1:
        return next(iter(methods.values()))

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" and "GET" in methods else request.method
        return await methods[method](request)

    return dispatch


async def read_json(request: Request, model: type[M], *, max_bytes: int = DEFAULT_MAX_BODY) -> M:
    """Read and validate a JSON body: 413 when too large, 400 when malformed, 422 when invalid."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLargeError(f"The body is larger than {max_bytes} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLargeError(f"The body is larger than {max_bytes} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise BadRequestError("A JSON body is required.", code="empty_body")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError(
            f"The body is not valid JSON ({exc.__class__.__name__}).", code="malformed_json"
        ) from None
    return validate(model, data)


def validate(model: type[M], data: Any) -> M:
    """Validate ``data``; a failure is a 422 listing each bad field, never internals."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        fields = [
            {
                "field": ".".join(str(part) for part in err["loc"]) or "body",
                "message": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        first = fields[0]
        raise ValidationError(
            f"{first['field']}: {first['message']}", details={"fields": fields}
        ) from None
