"""The team's side of a handoff: the inbox of conversations waiting for or handled by a
person, and taking, answering, handing back and closing them (each within the caller's
tenants: another tenant's conversation is a 404)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from functions.admin.schemas import (
    Inbox,
    OperatorMessage,
    OperatorReply,
    OperatorTake,
    StateChange,
)
from shared.auth.access import TENANT_USER
from shared.auth.principal import Principal
from shared.db import handoff
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_principal, read_json, read_optional_json
from shared.http.params import path_uuid, query_uuid, respond

# What a visitor sees as the sender when the reply comes from a server (a secret key).
API_OPERATOR = "Support"


def _operator(principal: Principal, chosen: str | None) -> str:
    """The name a visitor sees: the one the operator chose, else their username."""
    return (chosen or "").strip() or principal.username or API_OPERATOR


async def inbox(request: Request) -> Response:
    runtime = get_runtime(request)
    now = datetime.now(UTC)
    async with runtime.db.connection() as conn:
        rows = await handoff.inbox(
            conn, scope=get_principal(request).scope, bot_id=query_uuid(request, "bot_id")
        )
        items: list[dict[str, Any]] = []
        for row in rows:
            cipher = await runtime.cipher(conn, row["tenant_id"])
            since = row["waiting_since"]
            items.append(
                {
                    **row,
                    "visitor_name": cipher.try_decrypt(row["visitor_name_enc"]),
                    "contact": cipher.try_decrypt(row["contact_enc"]),
                    "waiting_seconds": int((now - since).total_seconds()) if since else None,
                }
            )
    return respond(Inbox.model_validate({"items": items}))


async def take(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    body = await read_optional_json(
        request, OperatorTake, max_bytes=runtime.settings.max_body_bytes
    )
    async with runtime.db.connection() as conn:
        row = await handoff.take(
            conn,
            scope=principal.scope,
            conversation_id=path_uuid(request, "conversation_id"),
            user_id=principal.user_id,
            name=_operator(principal, body.operator if body else None),
        )
    return respond(StateChange(conversation_id=row["id"], state=row["state"]))


async def reply(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    body = await read_json(request, OperatorReply, max_bytes=runtime.settings.max_body_bytes)
    conversation_id = path_uuid(request, "conversation_id")
    async with runtime.db.connection() as conn:
        tenant_id = await handoff.conversation_tenant(
            conn, scope=principal.scope, conversation_id=conversation_id
        )
        cipher = await runtime.cipher(conn, tenant_id)
        row = await handoff.add_operator_message(
            conn,
            scope=principal.scope,
            conversation_id=conversation_id,
            text_enc=cipher.encrypt(body.text),
            user_id=principal.user_id,
            name=_operator(principal, None),
            chosen=(body.operator or "").strip() or None,
        )
    return respond(
        OperatorMessage(
            conversation_id=conversation_id,
            message_id=row["id"],
            operator=row["operator_name"],
            created_at=row["created_at"],
        ),
        201,
    )


async def _to(request: Request, state: str) -> Response:
    runtime = get_runtime(request)
    async with runtime.db.connection() as conn:
        row = await handoff.set_state(
            conn,
            scope=get_principal(request).scope,
            conversation_id=path_uuid(request, "conversation_id"),
            state=state,
        )
    return respond(StateChange(conversation_id=row["id"], state=row["state"]))


async def release(request: Request) -> Response:
    return await _to(request, "bot")


async def close(request: Request) -> Response:
    return await _to(request, "closed")


_PATH = "/v1/admin/conversations/{conversation_id}"

ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/admin/inbox",
        inbox,
        "Conversations waiting for a person (oldest waiting first), then those a person"
        " handles, across the caller's tenants (filter: bot_id)",
        TENANT_USER,
        response=Inbox,
        tag="inbox",
    ),
    Endpoint(
        "POST",
        f"{_PATH}/take",
        take,
        "Handle the conversation: the bot stays silent (optional body: operator, the name"
        " the visitor sees); 409 when someone else handles it or it is closed",
        TENANT_USER,
        body=OperatorTake,
        response=StateChange,
        tag="inbox",
    ),
    Endpoint(
        "POST",
        f"{_PATH}/messages",
        reply,
        "Reply to the visitor (takes the conversation if nobody handles it); delivered to"
        " their open socket at once, else on their next poll",
        TENANT_USER,
        body=OperatorReply,
        response=OperatorMessage,
        status_code=201,
        tag="inbox",
    ),
    Endpoint(
        "POST",
        f"{_PATH}/release",
        release,
        "Hand the conversation back to the bot, which answers again with its context",
        TENANT_USER,
        response=StateChange,
        tag="inbox",
    ),
    Endpoint(
        "POST",
        f"{_PATH}/close",
        close,
        "Close the conversation (a visitor's next message reopens it with the bot)",
        TENANT_USER,
        response=StateChange,
        tag="inbox",
    ),
]
