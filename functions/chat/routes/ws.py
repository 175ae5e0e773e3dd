"""WS /v1/chat/ws?key=pk_…: one socket, many questions, tokens streamed as they come.

Client frames: ``{"type": "message", "text", "conversation_id"?, "visitor_id"?,
"visitor_token"?, "client_message_id"?}``. Server frames: ``{"type": "token", "text"}``…
then ``{"type": "done", …}`` or ``{"type": "error", "code", "message"}``. A visitor's error
(too long, rate-limited, unknown conversation) leaves the socket open; a bad key or origin
refuses the handshake (HTTP 403).
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
from shared.auth.access import CHAT
from shared.auth.authenticate import authenticate, bearer_token
from shared.chat.access import MAX_MESSAGE_CHARS, chat_bot, check_chat_rate, request_origin
from shared.chat.service import ChatInput, ChatService
from shared.errors import BadRequestError, ParleyError
from shared.http.context import get_runtime
from shared.http.endpoints import RequestModel, WebSocketEndpoint, validate
from shared.logging import get_logger

log = get_logger("parley.chat.ws")
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
    token = websocket.query_params.get("key") or bearer_token(
        websocket.headers.get("authorization")
    )
    try:
        async with runtime.db.connection() as conn:
            principal = await authenticate(conn, token, CHAT)
            raw_bot = websocket.query_params.get("bot_id")
            bot = await chat_bot(
                conn,
                principal,
                bot_id=UUID(raw_bot) if raw_bot else None,
                origin=request_origin(websocket.headers),
            )
    except (ParleyError, ValueError) as exc:
        code = exc.code if isinstance(exc, ParleyError) else "bad_request"
        await websocket.close(code=1008, reason=code)  # before accept: an HTTP 403
        return
    await websocket.accept()
    address = websocket.client.host if websocket.client else "unknown"
    service = ChatService(runtime)
    incoming: asyncio.Queue[str | None] = asyncio.Queue()

    async def read() -> None:
        try:
            while True:
                await incoming.put(await websocket.receive_text())
        except (WebSocketDisconnect, RuntimeError):
            await incoming.put(None)

    reader = asyncio.create_task(read())
    try:
        while (frame := await incoming.get()) is not None:
            try:
                message = _parse(frame)
                async with runtime.db.connection() as conn:
                    await check_chat_rate(conn, principal, bot, address)
            except ParleyError as exc:
                await _send(websocket, {"type": "error", **exc.body()["error"]})
                continue
            chat_input = ChatInput.from_caller(
                principal,
                message.text,
                conversation_id=message.conversation_id,
                visitor_id=message.visitor_id,
                visitor_token=message.visitor_token,
                client_message_id=message.client_message_id,
            )

            async def on_token(text: str) -> None:
                await _send(websocket, {"type": "token", "text": text})

            answer = asyncio.create_task(service.handle(bot, chat_input, on_token))
            await asyncio.wait([answer, reader], return_when=asyncio.FIRST_COMPLETED)
            if not answer.done():  # the visitor went away mid-answer
                answer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await answer
                break
            try:
                outcome = answer.result()
            except ParleyError as exc:
                await _send(websocket, {"type": "error", **exc.body()["error"]})
                continue
            except Exception:
                log.exception("chat answer failed")
                await _send(
                    websocket,
                    {
                        "type": "error",
                        "code": "internal_error",
                        "message": "Something went wrong on our side.",
                    },
                )
                continue
            await _send(websocket, {"type": "done", **outcome.public()})
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
        "/v1/chat/ws", chat_ws, "Chat over a WebSocket (key in ?key=)", CHAT, tag="chat"
    ),
]
