"""WS /v1/chat/ws?key=pk_…: one socket, many questions, tokens streamed as they come.

Client frames: ``{"type": "message", "text", "conversation_id"?, "visitor_id"?,
"visitor_token"?, "client_message_id"?}``; ``{"type": "handoff", "conversation_id"?,
"visitor_token"?, "name"?, "email"?}`` to reach a person; ``{"type": "resume",
"conversation_id", "visitor_token", "after"?}`` after a reconnect, to get what was said
since message ``after``. Server frames: ``{"type": "token", "text"}``… then ``{"type":
"done", …}``, ``{"type": "received", …}`` (the message waits for the person handling the
conversation) or ``{"type": "error", "code", "message"}`` (with ``"frame": "handoff"`` or
``"resume"`` when it answers one of those); and, for the conversation the
socket follows, ``{"type": "operator_message", "text", "operator", "message_id"}`` and
``{"type": "status", "state"}`` whenever they happen (in any process: see
:mod:`shared.handoff.bus`). A visitor's error (too long, rate-limited, unknown
conversation) leaves the socket open; a bad key or origin refuses the handshake (HTTP 403,
checked by the route builder like every endpoint's access). Each message and handoff is
checked and counted again as a ``POST /v1/chat`` from the same caller would be
(``check_again``): a key revoked or a site removed since the handshake refuses it, and it
meets the bot as it now is. The follower checks the caller too before it tells anything
(not counted), and closes the socket (1008) rather than tell a refused caller what was said.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field
from starlette.websockets import WebSocket, WebSocketDisconnect

from functions.chat.schemas import Email, PersonName, VisitorId, VisitorToken
from shared.auth.access import CHAT, WIDGET, Access
from shared.auth.principal import Principal
from shared.chat.bots import chat_bot
from shared.chat.frames import AnswerStream, Frame, error_frame
from shared.chat.turn import MAX_MESSAGE_CHARS, ChatOutcome, Question, vouches_for_visitors
from shared.db import handoff as handoff_db
from shared.db.pool import Conn
from shared.errors import (
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    ParleyError,
    RateLimitedError,
    UnauthorizedError,
)
from shared.handoff import visitor as handoff
from shared.http.context import get_runtime
from shared.http.endpoints import (
    RequestModel,
    WebSocketEndpoint,
    check_again,
    get_caller_bot,
    get_principal,
    validate,
)
from shared.llm.chain import OnToken
from shared.runtime import Runtime

MAX_FRAME = 16_000
# How often a followed conversation is read even without a notification: a safety net
# only, since the listener wakes every follower when it reconnects.
REREAD_SECONDS = 30.0
RETRY_READ_SECONDS = 1.0  # after a read that failed


class WsMessage(RequestModel):
    type: Literal["message"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    conversation_id: UUID | None = None
    visitor_id: VisitorId | None = None
    visitor_token: VisitorToken | None = None
    client_message_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class WsHandoff(RequestModel):
    type: Literal["handoff"]
    conversation_id: UUID | None = None
    visitor_id: VisitorId | None = None
    visitor_token: VisitorToken | None = None
    name: PersonName | None = None
    email: Email | None = None


class WsResume(RequestModel):
    type: Literal["resume"]
    conversation_id: UUID
    visitor_id: VisitorId | None = None
    visitor_token: VisitorToken | None = None
    after: UUID | None = None


ClientFrame = WsMessage | WsHandoff | WsResume
FRAMES: dict[str, type[ClientFrame]] = {
    "message": WsMessage,
    "handoff": WsHandoff,
    "resume": WsResume,
}


class Socket:
    """One visitor's socket: frames out one at a time, and the conversation it follows."""

    def __init__(self, websocket: WebSocket, runtime: Runtime, bot: dict[str, Any]) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.bot = bot
        self._lock = asyncio.Lock()
        # Its last message was over the limit: the next is counted before any work on it
        # (otherwise while its question is embedded), so a flood costs no embeddings.
        self.limited = False
        # Held while the visitor changes the conversation's state (a handoff) and is told,
        # and while the follower reads and tells: the change is announced once, not twice.
        self.telling = asyncio.Lock()
        self._follower: asyncio.Task[None] | None = None
        self._following: UUID | None = None
        # The followed conversation's state as this visitor last heard it (None: not yet).
        self._state: str | None = None

    async def check(self, conn: Conn, visitor: str | None, access: Access = CHAT) -> dict[str, Any]:
        """Check the caller again and count the message, as a POST /v1/chat from it would
        be now (the key revoked, its site no longer allowed, the limit); the bot as it now
        is, kept for the next message (its knowledge base or settings may have changed)."""
        try:
            caller = await check_again(self.websocket, conn, access, visitor=visitor)
        except RateLimitedError:
            self.limited = True
            raise
        self.limited = False
        self.bot = await chat_bot(conn, caller.principal, caller.bot, self.bot["id"])
        return self.bot

    async def send(self, frame: Frame) -> None:
        async with self._lock:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))

    def follow(
        self,
        conversation_id: UUID,
        after: UUID | None,
        state: str | None,
        *,
        restart: bool = False,
    ) -> None:
        """Push this conversation's operator messages (those after message ``after``) and
        state changes (from ``state``; None: send the state first) from now on."""
        self._state = state
        if self._following == conversation_id and not restart:
            return
        self.stop_following()
        self._following = conversation_id
        self._follower = asyncio.create_task(self._follow(conversation_id, after))

    def stop_following(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
        self._follower = None
        self._following = None

    async def _follow(self, conversation_id: UUID, after: UUID | None) -> None:
        bus = self.runtime.conversation_bus()
        async with bus.watching(conversation_id) as subscription:
            while True:
                wait = REREAD_SECONDS
                try:
                    async with self.telling:
                        after = await self._tell_news(conversation_id, after)
                except NotFoundError:  # erased meanwhile (GDPR): nothing more to follow
                    return
                except (UnauthorizedError, ForbiddenError) as exc:
                    # The key was revoked or the site removed: what follows is not told, and
                    # the socket is closed, as a new one would be refused.
                    await self.websocket.close(code=1008, reason=exc.code)
                    return
                except ParleyError:
                    # The database is away, or back with this pool's connection not yet
                    # renewed (the bus's wake-up after a restart can come first): read again
                    # soon, not at the next safety-net reread.
                    wait = RETRY_READ_SECONDS
                await subscription.wait(wait)

    async def _tell_news(self, conversation_id: UUID, after: UUID | None) -> UUID | None:
        """Send the operator messages after ``after`` and a changed state; the new cursor.
        When there is something to tell, the caller is checked first (not counted), as for
        everything else the socket says."""
        async with self.runtime.db.connection() as conn:
            cipher = await self.runtime.cipher(conn, self.bot["tenant_id"])
            news = await handoff.updates(conn, cipher, conversation_id, after)
            told = any(message["role"] == "operator" for message in news["messages"])
            if told or news["state"] != self._state:
                await check_again(self.websocket, conn, WIDGET)
        for message in news["messages"]:
            after = UUID(message["message_id"])
            if message["role"] == "operator":
                await self.send(handoff.operator_frame(message))
        if news["state"] != self._state:
            self._state = news["state"]
            await self.send(
                {"type": "status", "state": self._state, "conversation_id": str(conversation_id)}
            )
        return after

    async def close(self) -> None:
        follower = self._follower
        self.stop_following()
        if follower is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await follower


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
    socket = Socket(websocket, runtime, bot)
    incoming: asyncio.Queue[str | None] = asyncio.Queue()

    async def read() -> None:
        try:
            while True:
                await incoming.put(await websocket.receive_text())
        except (WebSocketDisconnect, RuntimeError):
            await incoming.put(None)

    reader = asyncio.create_task(read())
    try:
        while (raw := await incoming.get()) is not None:
            try:
                frame = _parse(raw)
            except ParleyError as exc:
                await socket.send(error_frame(exc))
                continue
            if isinstance(frame, WsMessage):
                pump = asyncio.create_task(_answer(socket, principal, frame))
                await asyncio.wait([pump, reader], return_when=asyncio.FIRST_COMPLETED)
                if not pump.done():  # the visitor went away mid-answer
                    pump.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await pump
                    break
                continue
            try:
                if isinstance(frame, WsResume):
                    await _resume(socket, principal, frame)
                else:
                    await _ask(socket, principal, frame)
            except ParleyError as exc:  # tagged, so it is not taken for a message's error
                await socket.send({**error_frame(exc), "frame": frame.type})
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        await socket.close()


async def _answer(socket: Socket, principal: Principal, message: WsMessage) -> None:
    runtime = socket.runtime
    question = Question.from_caller(
        principal,
        message.text,
        conversation_id=message.conversation_id,
        visitor_id=message.visitor_id,
        visitor_token=message.visitor_token,
        client_message_id=message.client_message_id,
    )
    service = runtime.chat_service()

    async def check(conn: Conn) -> dict[str, Any]:
        return await socket.check(conn, message.visitor_id)

    async def answering(on_token: OnToken) -> ChatOutcome:
        async with runtime.db.lease() as lease:
            if socket.limited:
                bot = await check(await lease.conn())
                return await service.handle(lease, bot, question, on_token)
            # Embedded for the bot as it was at the last message while the caller is checked.
            return await service.handle(lease, socket.bot, question, on_token, check=check)

    async for frame in AnswerStream(answering).frames():
        await socket.send(frame)
        if frame["type"] in ("done", "received"):
            socket.follow(UUID(frame["conversation_id"]), UUID(frame["message_id"]), frame["state"])


async def _resume(socket: Socket, principal: Principal, frame: WsResume) -> None:
    """After a reconnect: the follower sends what was said after ``after``, then the state."""
    runtime = socket.runtime
    async with runtime.db.connection() as conn:
        bot = await socket.check(conn, frame.visitor_id, WIDGET)  # not a message: not counted
        cipher = await runtime.cipher(conn, bot["tenant_id"])
        visitor = await handoff.prove(
            conn,
            cipher,
            bot,
            conversation_id=frame.conversation_id,
            visitor_token=frame.visitor_token,
            visitor_id=frame.visitor_id,
            trusted=vouches_for_visitors(principal),
        )
        # An `after` that is not this conversation's message is a 404 here, to the visitor.
        await handoff.updates(conn, cipher, visitor.conversation_id, frame.after)
    socket.follow(visitor.conversation_id, frame.after, None, restart=True)


async def _ask(socket: Socket, principal: Principal, frame: WsHandoff) -> None:
    """A visitor asks for a person: answered with a ``status`` frame, then followed."""
    runtime = socket.runtime
    async with socket.telling, runtime.db.connection() as conn:
        bot = await socket.check(conn, frame.visitor_id)
        ask = handoff.Ask(
            frame.conversation_id, frame.visitor_token, frame.visitor_id, frame.name, frame.email
        )
        visitor, status = await handoff.ask_for_person(runtime, conn, bot, principal, ask)
        last = await handoff_db.last_message_id(conn, conversation_id=visitor.conversation_id)
        socket.follow(visitor.conversation_id, last, status["state"])
        await socket.send({"type": "status", **status})


def _parse(raw: str) -> ClientFrame:
    if len(raw) > MAX_FRAME:
        raise BadRequestError("The message frame is too large.", code="payload_too_large")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise BadRequestError("Frames must be JSON.", code="malformed_json") from None
    kind = data.get("type") if isinstance(data, dict) else None
    model = FRAMES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise BadRequestError(f"type: one of {', '.join(FRAMES)}", code="unknown_frame_type")
    return validate(model, data)


ENDPOINTS = [
    WebSocketEndpoint(
        "/v1/chat/ws", chat_ws, "Chat over a WebSocket (key in ?key=)", WIDGET, tag="chat"
    ),
]
