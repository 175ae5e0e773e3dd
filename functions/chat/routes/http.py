"""POST /v1/chat (JSON, or SSE with Accept: text/event-stream), feedback, widget config."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from functions.chat.schemas import (
    ChatRequest,
    ChatResponse,
    FeedbackRequest,
    Ok,
    WidgetConfig,
    widget_config,
)
from shared.auth.access import CHAT, WIDGET
from shared.chat import visitors
from shared.chat.bots import chat_bot
from shared.chat.frames import AnswerStream, Frame
from shared.chat.turn import ChatOutcome, Question, handoff_text
from shared.db import conversations
from shared.errors import NotFoundError
from shared.http.context import get_runtime
from shared.http.endpoints import Endpoint, get_caller_bot, get_lease, get_principal, read_json
from shared.http.params import query_uuid, respond
from shared.llm.chain import OnToken


async def chat(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    lease = get_lease(request)
    body = await read_json(request, ChatRequest, max_bytes=runtime.settings.max_body_bytes)
    bot = await chat_bot(await lease.conn(), principal, get_caller_bot(request), body.bot_id)
    question = Question.from_caller(
        principal,
        body.message,
        conversation_id=body.conversation_id,
        visitor_id=body.visitor_id,
        visitor_token=body.visitor_token,
        client_message_id=body.client_message_id,
    )
    service = runtime.chat_service()
    if "text/event-stream" in request.headers.get("accept", ""):
        await lease.release()  # the stream outlives this handler: it takes its own

        async def answering(on_token: OnToken) -> ChatOutcome:
            async with runtime.db.lease() as own:
                return await service.handle(own, bot, question, on_token)

        return _SseAnswer(AnswerStream(answering))
    outcome = await service.handle(lease, bot, question)
    return respond(outcome.public(), 200 if outcome.answered else 202)


class _SseAnswer(StreamingResponse):
    """The answer's frames as server-sent events. The answer is begun before this response
    starts (its headers, the middleware), and stopped if the response ends first."""

    def __init__(self, stream: AnswerStream) -> None:
        super().__init__(
            _sse(stream.frames()),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stream.cancel()


async def _sse(frames: AsyncIterator[Frame]) -> AsyncIterator[str]:
    async for frame in frames:
        kind = frame.pop("type")
        yield f"event: {kind}\ndata: {json.dumps(frame, ensure_ascii=False)}\n\n"


async def feedback(request: Request) -> Response:
    runtime = get_runtime(request)
    principal = get_principal(request)
    body = await read_json(request, FeedbackRequest, max_bytes=runtime.settings.max_body_bytes)
    conn = await get_lease(request).conn()
    bot = await chat_bot(conn, principal, get_caller_bot(request), body.bot_id)
    cipher = await runtime.cipher(conn, bot["tenant_id"])
    browser = principal.credential == "publishable_key"
    visitor_id = visitors.proven_visitor(
        cipher,
        bot_id=bot["id"],
        visitor_id=body.visitor_id,
        token=body.visitor_token,
        trusted=not browser,
    )
    if browser and visitor_id is None:
        raise NotFoundError("message", body.message_id)
    found = await conversations.set_feedback(
        conn,
        bot_id=bot["id"],
        message_id=body.message_id,
        visitor_id=visitor_id if browser else None,
        rating=body.rating,
        comment_enc=cipher.encrypt(body.comment) if body.comment else None,
    )
    if not found:
        raise NotFoundError("message", body.message_id)
    return respond(Ok())


async def config(request: Request) -> Response:
    bot = await chat_bot(
        await get_lease(request).conn(),
        get_principal(request),
        get_caller_bot(request),
        query_uuid(request, "bot_id"),
    )
    return respond(widget_config(bot, handoff_text(bot)))


ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/chat",
        chat,
        "Ask the bot (JSON; or SSE events token/done with Accept: text/event-stream). While a"
        " person handles the conversation: 202, the message is stored for them (SSE: received)",
        CHAT,
        body=ChatRequest,
        response=ChatResponse,
        tag="chat",
        reuse_connection=True,
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
        reuse_connection=True,
    ),
    Endpoint(
        "GET",
        "/v1/widget/config",
        config,
        "The bot's public display settings",
        WIDGET,
        response=WidgetConfig,
        tag="chat",
        reuse_connection=True,
    ),
]
