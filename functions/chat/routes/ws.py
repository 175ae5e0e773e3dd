"""WS /v1/chat/ws?key=pk_…: one socket, many questions, tokens streamed as they come.

Client frames: ``{"type": "message", "text", "conversation_id"?, "visitor_id"?,
"visitor_token"?, "client_message_id"?}``. Server frames: ``{"type": "token", "text"}``…
then ``{"type": "done", …}`` or ``{"type": "error", "code", "message"}``. A visitor's error
(too long, rate-limited, unknown conversation) leaves the socket open; a bad key or origin
refuses the handshake (HTTP 403, checked by the route builder like every endpoint's access).
Each message counts against the same limit as a ``POST /v1/chat`` from the same caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field
from starlette.websockets import WebSocket, WebSocketDisconnect

from functions.chat.schemas import VisitorId
from shared import ratelimit
from shared.auth.access import WIDGET
from shared.auth.limits import PERIOD_SECONDS, limit_for, per_minute
from shared.chat.bots import chat_bot
from shared.chat.frames import answer_frames, error_frame
from shared.chat.turn import MAX_MESSAGE_CHARS, ChatOutcome, Question
from shared.errors import BadRequestError, ParleyError
from shared.http.context import get_runtime
from shared.http.endpoints import (
    RequestModel,
    WebSocketEndpoint,
    get_caller_bot,
    get_principal,
    validate,
)
from shared.llm.chain import OnToken

MAX_FRAME = 16_000


class WsMessage(RequestModel):
    type: Literal["message"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    conversation_id: UUID | None = None
    visitor_id: VisitorId | None = None
    visitor_token: Annotated[str, Field(max_length=200)] | None = None
    client_message_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None


async def chat_ws(websocket: WebSocket) -> None:
    runtime = get_runtime(websocket)
    principal = get_principal(websocket)
    raw_bot = websocket.query_params.get("bot_id")
    try:
        async with runtime.db.lease() as lease:
            bot = await chat_bot(
                await lease.conn(),
                principal,
                get_caller_bot(websocket),
                UUID(raw_bot) if raw_bot else None,
            )
    except (ParleyError, ValueError) as exc:
        code = exc.code if isinstance(exc, ParleyError) else "bad_request"
        await websocket.close(code=1008, reason=code)  # before accept: an HTTP 403
        return
    await websocket.accept()
    address = websocket.client.host if websocket.client else "unknown"
    limit = limit_for(
        principal.credential,
        principal.credential_id,
        address=address,
        api_per_minute=runtime.settings.api_rate_limit,
    )
    assert limit is not None  # every message counts
    service = runtime.chat_service()
    incoming: asyncio.Queue[str | None] = asyncio.Queue()

    async def read() -> None:
        try:
            while True:
                await incoming.put(await websocket.receive_text())
        except (WebSocketDisconnect, RuntimeError):
            await incoming.put(None)

    async def answer(question: Question) -> None:
        async def answering(on_token: OnToken) -> ChatOutcome:
            async with runtime.db.lease() as lease:
                await ratelimit.check(
                    await lease.conn(),
                    bucket=limit.bucket,
                    limit=per_minute(limit, bot["rate_limit_per_minute"]),
                    period=PERIOD_SECONDS,
                )
                return await service.handle(lease, bot, question, on_token)

        async for frame in answer_frames(answering):
            await _send(websocket, frame)

    reader = asyncio.create_task(read())
    try:
        while (raw := await incoming.get()) is not None:
            try:
                message = _parse(raw)
            except ParleyError as exc:
                await _send(websocket, error_frame(exc))
                continue
            question = Question.from_caller(
                principal,
                message.text,
                conversation_id=message.conversation_id,
                visitor_id=message.visitor_id,
                visitor_token=message.visitor_token,
                client_message_id=message.client_message_id,
            )
            pump = asyncio.create_task(answer(question))
            await asyncio.wait([pump, reader], return_when=asyncio.FIRST_COMPLETED)
            if not pump.done():  # the visitor went away mid-answer
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump
                break
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


def _parse(frame: str) -> WsMessage:
    if len(frame) > MAX_FRAME:
        raise BadRequestError("The message frame is too large.", code="payload_too_large")
    try:
        data = json.loads(frame)
    except json.JSONDecodeError:
        raise BadRequestError("Frames must be JSON.", code="malformed_json") from None
    return validate(WsMessage, data)


async def _send(websocket: WebSocket, frame: dict[str, Any]) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.send_text(json.dumps(frame, ensure_ascii=False))


ENDPOINTS = [
    WebSocketEndpoint(
        "/v1/chat/ws", chat_ws, "Chat over a WebSocket (key in ?key=)", WIDGET, tag="chat"
    ),
]
