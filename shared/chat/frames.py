"""One streamer for every channel: an answer as ``token`` frames while it is written, then
``done`` (the API's response object), ``received`` (a person handles the conversation: the
message was stored for them, unanswered) or ``error`` (the JSON error shape's fields).

SSE sends each frame as an event named by its type; the WebSocket sends it as JSON. When
the consumer stops (the visitor left), the answer is cancelled, provider call included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from shared.chat.turn import ChatOutcome
from shared.errors import ParleyError
from shared.llm.chain import OnToken
from shared.logging import get_logger

log = get_logger("parley.chat")

Frame = dict[str, Any]
Answering = Callable[[OnToken], Awaitable[ChatOutcome]]


def error_frame(exc: ParleyError) -> Frame:
    return {"type": "error", **exc.body()["error"]}


async def answer_frames(answering: Answering) -> AsyncIterator[Frame]:
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def on_token(text: str) -> None:
        await queue.put(text)

    async def run() -> ChatOutcome:
        try:
            return await answering(on_token)
        finally:
            await queue.put(None)

    task = asyncio.create_task(run())
    try:
        while (piece := await queue.get()) is not None:
            yield {"type": "token", "text": piece}
        try:
            outcome = await task
        except ParleyError as exc:
            yield error_frame(exc)
            return
        except Exception:
            log.exception("chat answer failed")
            yield error_frame(ParleyError())
            return
        # "received": the message waits for the person handling the conversation.
        yield {"type": "done" if outcome.answered else "received", **outcome.public()}
    finally:
        if not task.done():
            task.cancel()  # the visitor left: stop the provider call
