"""POST /v1/chat (JSON, or SSE with Accept: text/event-stream), feedback, widget config."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from functions.chat.schemas import (
    ChatRequest,
    ChatResponse,
    FeedbackRequest,
    Ok,
    WidgetConfig,
    widget_config,
)
from shared.auth.access import CHAT
from shared.chat import visitors
from shared.chat.access import chat_bot, check_chat_rate, request_origin
from shared.chat.service import ChatInput, ChatOutcome, ChatService, handoff_text
from shared.db import conversations
from shared.errors import NotFoundError, ParleyError
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_principal, read_json
from shared.http.params import query_uuid, respond
from shared.logging import get_logger

log = get_logger("parley.chat")


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def chat(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    body = await read_json(request, ChatRequest, max_bytes=runtime.settings.max_body_bytes)
    async with runtime.db.connection() as conn:
        bot = await chat_bot(
            conn, principal, bot_id=body.bot_id, origin=request_origin(request.headers)
        )
        await check_chat_rate(conn, principal, bot, _address(request))
    chat_input = ChatInput.from_caller(
        principal,
        body.message,
        conversation_id=body.conversation_id,
        visitor_id=body.visitor_id,
        visitor_token=body.visitor_token,
        client_message_id=body.client_message_id,
    )
    service = ChatService(runtime)
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            _sse(service, bot, chat_input),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    outcome = await service.handle(bot, chat_input)
    return respond(outcome.public())


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _sse(
    service: ChatService, bot: dict[str, Any], chat_input: ChatInput
) -> AsyncIterator[str]:
    """Tokens as they come, then `done`; if the client goes away, the answer is cancelled."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def on_token(text: str) -> None:
        await queue.put(text)

    async def run() -> ChatOutcome:
        try:
            return await service.handle(bot, chat_input, on_token)
        finally:
            await queue.put(None)

    task = asyncio.create_task(run())
    try:
        while (piece := await queue.get()) is not None:
            yield _event("token", {"text": piece})
        try:
            outcome = await task
        except ParleyError as exc:
            yield _event("error", exc.body()["error"])
            return
        except Exception:
            log.exception("chat answer failed")
            yield _event(
                "error", {"code": "internal_error", "message": "Something went wrong on our side."}
            )
            return
        yield _event("done", outcome.public())
    finally:
        if not task.done():
            task.cancel()  # the visitor left: stop the provider call


async def feedback(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    body = await read_json(request, FeedbackRequest, max_bytes=runtime.settings.max_body_bytes)
    async with runtime.db.connection() as conn:
        bot = await chat_bot(
            conn, principal, bot_id=body.bot_id, origin=request_origin(request.headers)
        )
        await check_chat_rate(conn, principal, bot, _address(request))
        cipher = await runtime.cipher(conn, bot["tenant_id"])
        visitor_id = body.visitor_id
        if principal.credential == "publishable_key" and not (
            visitor_id
            and visitors.valid_token(
                cipher, bot_id=bot["id"], visitor_id=visitor_id, token=body.visitor_token
            )
        ):
            raise NotFoundError("message", body.message_id)
        found = await conversations.set_feedback(
            conn,
            bot_id=bot["id"],
            message_id=body.message_id,
            visitor_id=visitor_id if principal.credential == "publishable_key" else None,
            rating=body.rating,
            comment_enc=cipher.encrypt(body.comment) if body.comment else None,
        )
    if not found:
        raise NotFoundError("message", body.message_id)
    return respond(Ok())


async def config(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    async with runtime.db.connection() as conn:
        bot = await chat_bot(
            conn,
            principal,
            bot_id=query_uuid(request, "bot_id"),
            origin=request_origin(request.headers),
        )
    return respond(widget_config(bot, handoff_text(bot)))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/chat",
        chat,
        "Ask the bot (JSON; or SSE events token/done with Accept: text/event-stream)",
        CHAT,
        body=ChatRequest,
        response=ChatResponse,
        tag="chat",
    ),
    Endpoint(
        "POST",
        "/v1/chat/feedback",
        feedback,
        "Thumbs up or down on an answer",
        CHAT,
        body=FeedbackRequest,
        response=Ok,
        tag="chat",
    ),
    Endpoint(
        "GET",
        "/v1/widget/config",
        config,
        "The bot's public display settings",
        CHAT,
        response=WidgetConfig,
        tag="chat",
    ),
]
