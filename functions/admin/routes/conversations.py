"""Conversation logs (transcripts decrypted only for callers allowed to see them) and
per-bot analytics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from functions.admin.routes.scope import scoped_bot
from functions.admin.schemas import Analytics, Conversation, Page, Transcript, Unanswered
from shared.analytics import bot_analytics, unanswered_questions
from shared.auth.access import TENANT_USER
from shared.chat import spending
from shared.conversation_search import SCAN, matching
from shared.crypto import DecryptionError
from shared.db import conversations
from shared.errors import ValidationError
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_principal
from shared.http.params import page_of, paging, path_uuid, query_text, query_time, respond

DEFAULT_PERIOD = timedelta(days=30)
UNREADABLE = "[unreadable: encrypted under a key this deployment does not have]"


SOURCES = ("faq", "rag", "fallback", "cache")
FEEDBACK = {"up": 1, "down": -1}


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = query_text(request, name)
    if value is not None and value not in allowed:
        raise ValidationError(f"{name}: one of {', '.join(allowed)}")
    return value


async def list_conversations(request: Request) -> Response:
    limit, offset = paging(request)
    source = _choice(request, "source", SOURCES)
    rated = _choice(request, "feedback", tuple(FEEDBACK))
    text = query_text(request, "q") or ""
    runtime = get_runtime(request)
    async with runtime.db.connection() as conn:
        bot = await scoped_bot(conn, request)
        rows = await conversations.list_conversations(
            conn,
            tenant_id=bot["tenant_id"],
            bot_id=bot["id"],
            visitor_id=query_text(request, "visitor_id"),
            since=query_time(request, "from"),
            until=query_time(request, "to"),
            limit=SCAN if text else limit,
            offset=0 if text else offset,
            source=source,
            feedback=FEEDBACK[rated] if rated else None,
        )
        if text:
            cipher = await runtime.cipher(conn, bot["tenant_id"])
            rows = await matching(conn, cipher, rows, text, limit=limit, offset=offset)
    return page_of(Conversation, rows, limit, offset)


async def get_transcript(request: Request) -> Response:
    runtime = get_runtime(request)
    async with runtime.db.connection() as conn:
        conversation, messages = await conversations.get_conversation(
            conn,
            scope=get_principal(request).scope,
            conversation_id=path_uuid(request, "conversation_id"),
        )
        cipher = await runtime.cipher(conn, conversation["tenant_id"])
    items = []
    for message in messages:
        try:
            text = cipher.decrypt(message["content_enc"])
        except DecryptionError:
            text = UNREADABLE
        items.append({**message, "text": text, "cost_usd": float(message["cost_usd"])})
    return respond(Transcript.model_validate({**conversation, "messages": items}))


def period_of(request: Request) -> tuple[datetime, datetime]:
    until = query_time(request, "to") or datetime.now(UTC)
    since = query_time(request, "from") or until - DEFAULT_PERIOD
    if since >= until:
        raise ValidationError("from: must be before to")
    return since, until


async def analytics(request: Request) -> Response:
    runtime = get_runtime(request)
    since, until = period_of(request)
    async with runtime.db.connection() as conn:
        bot = await scoped_bot(conn, request)
        cipher = await runtime.cipher(conn, bot["tenant_id"])
        result = await bot_analytics(conn, cipher, bot_id=bot["id"], since=since, until=until)
        result["spend"] = await spending.month_spending(conn, bot, runtime.prices)
    return respond(Analytics.model_validate(result).model_dump(mode="json", by_alias=True))


async def unanswered(request: Request) -> Response:
    runtime = get_runtime(request)
    since, until = period_of(request)
    async with runtime.db.connection() as conn:
        bot = await scoped_bot(conn, request)
        cipher = await runtime.cipher(conn, bot["tenant_id"])
        items = await unanswered_questions(conn, cipher, bot_id=bot["id"], since=since, until=until)
    return respond(Unanswered.model_validate({"items": items}))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/admin/bots/{bot_id}/conversations",
        list_conversations,
        "List a bot's conversations (visitor_id, from, to, source, feedback=up|down, q: words"
        " said in it, among the newest 2,000; limit, offset)",
        TENANT_USER,
        response=Page[Conversation],
        tag="conversations",
    ),
    Endpoint(
        "GET",
        "/v1/admin/conversations/{conversation_id}",
        get_transcript,
        "A conversation's transcript, decrypted",
        TENANT_USER,
        response=Transcript,
        tag="conversations",
    ),
    Endpoint(
        "GET",
        "/v1/admin/bots/{bot_id}/analytics",
        analytics,
        "Volumes, answer sources, latency, cost, feedback and top questions (from, to)",
        TENANT_USER,
        response=Analytics,
        tag="analytics",
    ),
    Endpoint(
        "GET",
        "/v1/admin/bots/{bot_id}/unanswered",
        unanswered,
        "Questions answered with the handoff text, most frequent first (from, to)",
        TENANT_USER,
        response=Unanswered,
        tag="analytics",
    ),
]
