"""A visitor asks for a person (POST /v1/chat/handoff), and a client without a socket reads
what was said since (GET /v1/chat/conversations/{id}/messages?after=)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from functions.chat.schemas import ConversationUpdates, HandoffRequest, HandoffStatus
from shared.auth.access import CHAT, WIDGET
from shared.chat.bots import chat_bot
from shared.chat.turn import vouches_for_visitors
from shared.handoff import visitor as handoff
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_caller_bot, get_lease, get_principal, read_json
from shared.http.params import path_uuid, query_text, query_uuid, respond


async def request_person(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    body = await read_json(request, HandoffRequest, max_bytes=runtime.settings.max_body_bytes)
    conn = await get_lease(request).conn()
    bot = await chat_bot(conn, principal, get_caller_bot(request), body.bot_id)
    ask = handoff.Ask(
        body.conversation_id, body.visitor_token, body.visitor_id, body.name, body.email
    )
    _, status = await handoff.ask_for_person(runtime, conn, bot, principal, ask)
    return respond(HandoffStatus.model_validate(status))


async def messages(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    conn = await get_lease(request).conn()
    bot = await chat_bot(conn, principal, get_caller_bot(request), query_uuid(request, "bot_id"))
    cipher = await runtime.cipher(conn, bot["tenant_id"])
    visitor = await handoff.prove(
        conn,
        cipher,
        bot,
        conversation_id=path_uuid(request, "conversation_id"),
        visitor_token=query_text(request, "visitor_token"),
        visitor_id=None,
        trusted=vouches_for_visitors(principal),
    )
    news = await handoff.updates(
        conn, cipher, visitor.conversation_id, query_uuid(request, "after")
    )
    return respond(ConversationUpdates.model_validate(news))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/chat/handoff",
        request_person,
        "Ask for a person: the conversation waits for the bot's team (who are told), and the"
        " bot stays silent while a person handles it",
        CHAT,
        body=HandoffRequest,
        response=HandoffStatus,
        tag="chat",
        reuse_connection=True,
    ),
    Endpoint(
        "GET",
        "/v1/chat/conversations/{conversation_id}/messages",
        messages,
        "The conversation's state and its messages after message `after` (visitor_token;"
        " for clients without a WebSocket, and after a reconnect)",
        WIDGET,
        response=ConversationUpdates,
        tag="chat",
        reuse_connection=True,
    ),
]
