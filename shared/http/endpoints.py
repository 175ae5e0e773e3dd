"""Endpoints declared as data, so routes, the OpenAPI document and checks share one list.

Endpoint("GET", "/v1/admin/tenants", list_tenants, "List tenants", response=TenantList)
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from shared.auth.access import Access
from shared.auth.authenticate import Caller, RequestFacts, authenticate, bearer_token
from shared.auth.origins import request_origin
from shared.auth.principal import Principal
from shared.db.pool import Conn, Lease
from shared.errors import BadRequestError, ParleyError, PayloadTooLargeError, ValidationError
from shared.http.context import get_runtime
from shared.logging import append_keys

HttpHandler = Callable[[Request], Awaitable[Response]]
WsHandler = Callable[[WebSocket], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)

DEFAULT_MAX_BODY = 1_000_000
# The visitor id a browser sends with each request: its own chat allowance (shared.auth.limits).
VISITOR_HEADER = "x-parley-visitor-id"


class RequestModel(BaseModel):
    """Base for request bodies: unknown fields are an error, not silently dropped, and no
    string may hold a NUL character (PostgreSQL text cannot store one)."""

    model_config = ConfigDict(extra="forbid")
    # Optional fields that may be left out (keep the current value) but not sent as null:
    # what they hold cannot be empty.
    not_null: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        where = _nul_at(data)
        if where is not None:
            raise ValueError(f"{where or 'the body'} must not contain a NUL character")
        if isinstance(data, dict):
            for name in sorted(cls.not_null):
                if name in data and data[name] is None:
                    raise ValueError(f"{name} must not be null (leave it out to keep it)")
        return data


def _nul_at(value: Any, path: str = "") -> str | None:
    """The first field (dotted path) whose string holds a NUL character, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _nul_at(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


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
    # The handler runs its statements on the connection that authenticated the request
    # (get_lease): the chat path's one checkout. Others get it back in the pool first.
    reuse_connection: bool = False


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
            routes.append(WebSocketRoute(ep.path, _guarded_ws(ep)))
            continue
        methods = by_path.setdefault(ep.path, {})
        if ep.method in methods:
            raise ValueError(f"{ep.method} {ep.path} is declared twice")
        methods[ep.method] = ep.handler if ep.access.public else _guarded(ep)
    for path, methods in by_path.items():
        routes.append(Route(path, _dispatcher(methods), methods=list(methods)))
    return routes


def _facts(connection: HTTPConnection, api_per_minute: int) -> RequestFacts:
    client = connection.client
    return RequestFacts(
        origin=request_origin(connection.headers),
        address=client.host if client else "unknown",
        api_per_minute=api_per_minute,
        visitor=connection.headers.get(VISITOR_HEADER) or None,
    )


def _remember(connection: HTTPConnection, caller: Caller, lease: Lease | None) -> None:
    connection.state.principal = caller.principal
    connection.state.bot = caller.bot
    connection.state.lease = lease
    tenant = caller.principal.tenant_id
    append_keys(tenant_id=str(tenant) if tenant else "*")


def _guarded(ep: Endpoint) -> HttpHandler:
    """Authenticate, check the role, count the request against the caller's limit (one
    statement), then run the handler on the same pooled connection (``get_lease``)."""

    async def guarded(request: Request) -> Response:
        runtime = get_runtime(request)
        token = bearer_token(request.headers.get("authorization"))
        facts = _facts(request, runtime.settings.api_rate_limit)
        async with runtime.db.lease() as lease:
            caller = await authenticate(await lease.conn(), token, ep.access, facts)
            _remember(request, caller, lease)
            if not ep.reuse_connection:
                await lease.release()
            return await ep.handler(request)

    return guarded


def _guarded_ws(ep: WebSocketEndpoint) -> WsHandler:
    """The same check on the handshake (key in ``?key=`` or the Authorization header); a
    refused handshake is closed before it is accepted, which the client sees as HTTP 403."""

    async def guarded(websocket: WebSocket) -> None:
        runtime = get_runtime(websocket)
        token = websocket.query_params.get("key") or bearer_token(
            websocket.headers.get("authorization")
        )
        facts = _facts(websocket, runtime.settings.api_rate_limit)
        try:
            async with runtime.db.lease() as lease:
                caller = await authenticate(await lease.conn(), token, ep.access, facts)
        except ParleyError as exc:
            await websocket.close(code=1008, reason=exc.code)
            return
        _remember(websocket, caller, None)
        websocket.state.credential = (token, facts)  # for check_again
        await ep.handler(websocket)

    return guarded


async def check_again(
    websocket: WebSocket, conn: Conn, access: Access, *, visitor: str | None = None
) -> Caller:
    """A socket's caller checked again, as an HTTP request with the credential it opened
    with would be now: the key may have been revoked or have expired, its site be no longer
    allowed, its bot changed; and the request counted against ``access``'s limit (a visitor
    message's for ``visitor``). Each message over a socket is such a request."""
    token, facts = websocket.state.credential
    return await authenticate(conn, token, access, replace(facts, visitor=visitor))


def get_principal(connection: HTTPConnection) -> Principal:
    """The caller, as authenticated by the route's access check."""
    principal: Principal = connection.state.principal
    return principal


def get_caller_bot(connection: HTTPConnection) -> dict[str, Any] | None:
    """A publishable key's bot, loaded (and its origin checked) with the credential."""
    bot: dict[str, Any] | None = connection.state.bot
    return bot


def get_lease(request: Request) -> Lease:
    """The request's pooled connection, already used to authenticate it."""
    lease: Lease = request.state.lease
    return lease


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


async def read_optional_json(
    request: Request, model: type[M], *, max_bytes: int = DEFAULT_MAX_BODY
) -> M | None:
    """Like :func:`read_json`, for a body the caller may leave out (None then)."""
    try:
        return await read_json(request, model, max_bytes=max_bytes)
    except BadRequestError as exc:
        if exc.code == "empty_body":
            return None
        raise


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
