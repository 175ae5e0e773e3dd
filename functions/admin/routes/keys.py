"""API keys: created (shown once), listed without secrets, revoked."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from functions.admin.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated, Ok, Page
from shared.auth.access import TENANT_USER
from shared.auth.tokens import hash_token, new_api_key
from shared.db import api_keys, bots, tenants
from shared.errors import ForbiddenError, ValidationError
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_principal, read_json
from shared.http.params import page_of, paging, path_uuid, query_uuid, respond


async def list_keys(request: Request) -> Response:
    limit, offset = paging(request)
    async with get_runtime(request).db.connection() as conn:
        rows = await api_keys.list_keys(
            conn,
            scope=get_principal(request).scope,
            tenant_id=query_uuid(request, "tenant_id"),
            limit=limit,
            offset=offset,
        )
    return page_of(ApiKey, rows, limit, offset)


async def create_key(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    body = await read_json(request, ApiKeyCreate, max_bytes=runtime.settings.max_body_bytes)
    if body.kind == "publishable":
        if body.bot_id is None:
            raise ValidationError("bot_id: a publishable key belongs to one bot")
        if body.role not in (None, "guest"):
            raise ValidationError("role: publishable keys always have the role guest")
        role = "guest"
    else:
        role = body.role or "saas_user"
        if role == "guest":
            raise ValidationError("role: secret keys have the role saas_user or admin")
        if role == "admin" and not principal.is_admin:
            raise ForbiddenError("Only an admin can create admin keys.")
    async with runtime.db.connection() as conn:
        await tenants.get_tenant(conn, scope=principal.scope, tenant_id=body.tenant_id)
        if body.bot_id is not None:
            bot = await bots.get_bot(conn, scope=principal.scope, bot_id=body.bot_id)
            if bot["tenant_id"] != body.tenant_id:
                raise ValidationError("bot_id: the bot belongs to another tenant")
        key, prefix = new_api_key(body.kind)
        row = await api_keys.create_key(
            conn,
            tenant_id=body.tenant_id,
            bot_id=body.bot_id,
            kind=body.kind,
            role=role,
            name=body.name,
            prefix=prefix,
            key_hash=hash_token(key),
            expires_at=body.expires_at,
        )
    return respond(ApiKeyCreated.model_validate({**row, "key": key}), 201)


async def revoke_key(request: Request) -> Response:
    async with get_runtime(request).db.connection() as conn:
        await api_keys.revoke_key(
            conn, scope=get_principal(request).scope, key_id=path_uuid(request, "key_id")
        )
    return respond(Ok())


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/admin/api-keys",
        list_keys,
        "List API keys (never their secrets)",
        TENANT_USER,
        response=Page[ApiKey],
        tag="api-keys",
    ),
    Endpoint(
        "POST",
        "/v1/admin/api-keys",
        create_key,
        "Create an API key; shown once",
        TENANT_USER,
        body=ApiKeyCreate,
        response=ApiKeyCreated,
        status_code=201,
        tag="api-keys",
    ),
    Endpoint(
        "DELETE",
        "/v1/admin/api-keys/{key_id}",
        revoke_key,
        "Revoke an API key",
        TENANT_USER,
        response=Ok,
        tag="api-keys",
    ),
]
