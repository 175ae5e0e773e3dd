"""Bots and their settings, within the caller's tenant scope."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from functions.admin.routes.scope import scoped_bot
from functions.admin.schemas import Bot, BotCreate, BotUpdate, Ok, Page, slugify
from shared.auth.access import TENANT_USER
from shared.crypto import TenantCipher
from shared.db import bots, tenants
from shared.errors import ValidationError
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_principal, read_json
from shared.http.params import page_of, paging, path_uuid, query_uuid, respond
from shared.rag.faq_match import threshold_for
from shared.rag.index import reembed_bot
from shared.runtime import Runtime


def _shown(runtime: Runtime, row: dict[str, Any]) -> dict[str, Any]:
    """The bot as the API shows it: with the FAQ threshold it has by default."""
    calibration = runtime.embedder_for(row).calibration
    default = threshold_for(None, calibration, row["phrasings_per_faq"])
    return {**row, "default_faq_threshold": default}


async def list_bots(request: Request) -> Response:
    limit, offset = paging(request)
    async with get_runtime(request).db.connection() as conn:
        rows = await bots.list_bots(
            conn,
            scope=get_principal(request).scope,
            tenant_id=query_uuid(request, "tenant_id"),
            limit=limit,
            offset=offset,
        )
    runtime = get_runtime(request)
    return page_of(Bot, [_shown(runtime, row) for row in rows], limit, offset)


async def create_bot(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    body = await read_json(request, BotCreate, max_bytes=runtime.settings.max_body_bytes)
    _check_currency(runtime, body.currency)
    async with runtime.db.connection() as conn:
        await tenants.get_tenant(conn, scope=principal.scope, tenant_id=body.tenant_id)
        settings = body.changes(whole_display=True)
        if "handoff_webhook_secret" in settings:
            cipher = await runtime.cipher(conn, body.tenant_id)
            settings["handoff_webhook_secret_enc"] = _sealed(
                cipher, settings.pop("handoff_webhook_secret")
            )
        row = await bots.create_bot(
            conn,
            tenant_id=body.tenant_id,
            slug=body.slug or slugify(body.name, "bot"),
            name=body.name,
            settings=settings,
        )
    return respond(Bot.model_validate(_shown(runtime, row)), 201)


async def get_bot(request: Request) -> Response:
    runtime = get_runtime(request)
    async with runtime.db.connection() as conn:
        row = await scoped_bot(conn, request)
    return respond(Bot.model_validate(_shown(runtime, row)))


async def update_bot(request: Request) -> Response:
    runtime = get_runtime(request)
    bot_id = path_uuid(request, "bot_id")
    body = await read_json(request, BotUpdate, max_bytes=runtime.settings.max_body_bytes)
    _check_currency(runtime, body.currency)
    scope = get_principal(request).scope
    async with runtime.db.connection() as conn, conn.transaction():
        before = await bots.get_bot(conn, scope=scope, bot_id=bot_id)
        changes = body.changes()
        if "handoff_webhook_secret" in changes:
            cipher = await runtime.cipher(conn, before["tenant_id"])
            changes["handoff_webhook_secret_enc"] = _sealed(
                cipher, changes.pop("handoff_webhook_secret")
            )
        row = await bots.update_bot(conn, scope=scope, bot_id=bot_id, changes=changes)
        embedder = runtime.embedder_for(row)
        if embedder is not runtime.embedder_for(before):  # its language changed its model
            await reembed_bot(conn, embedder, row)
    return respond(Bot.model_validate(_shown(runtime, row)))


def _check_currency(runtime: Runtime, currency: str | None) -> None:
    if currency is not None and currency not in runtime.prices.rates:
        known = ", ".join(sorted(runtime.prices.rates))
        raise ValidationError(
            f"currency: no rate for {currency} (known: {known}; add one with PARLEY_CURRENCY_RATES)"
        )


def _sealed(cipher: TenantCipher, secret: str | None) -> bytes | None:
    return cipher.encrypt(secret) if secret else None


async def delete_bot(request: Request) -> Response:
    async with get_runtime(request).db.connection() as conn:
        await bots.delete_bot(
            conn, scope=get_principal(request).scope, bot_id=path_uuid(request, "bot_id")
        )
    return respond(Ok())


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/admin/bots",
        list_bots,
        "List bots (filter: tenant_id)",
        TENANT_USER,
        response=Page[Bot],
        tag="bots",
    ),
    Endpoint(
        "POST",
        "/v1/admin/bots",
        create_bot,
        "Create a bot",
        TENANT_USER,
        body=BotCreate,
        response=Bot,
        status_code=201,
        tag="bots",
    ),
    Endpoint(
        "GET",
        "/v1/admin/bots/{bot_id}",
        get_bot,
        "Get a bot",
        TENANT_USER,
        response=Bot,
        tag="bots",
    ),
    Endpoint(
        "PATCH",
        "/v1/admin/bots/{bot_id}",
        update_bot,
        "Change a bot's settings",
        TENANT_USER,
        body=BotUpdate,
        response=Bot,
        tag="bots",
    ),
    Endpoint(
        "DELETE",
        "/v1/admin/bots/{bot_id}",
        delete_bot,
        "Delete a bot with its FAQs, documents and conversations",
        TENANT_USER,
        response=Ok,
        tag="bots",
    ),
]
