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


class AnswerStream:
    """An answer under way: begun at once, so its work (embedding the question first of all)
    overlaps whatever the channel does before the first frame, such as sending an HTTP
    response's headers; read with :meth:`frames`, stopped with :meth:`cancel`."""

    def __init__(self, answering: Answering) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(answering))

    async def _run(self, answering: Answering) -> ChatOutcome:
        try:
            return await answering(self._queue.put)
        finally:
            await self._queue.put(None)

    async def frames(self) -> AsyncIterator[Frame]:
        try:
            while (piece := await self._queue.get()) is not None:
                yield {"type": "token", "text": piece}
            try:
                outcome = await self._task
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
            self.cancel()

    def cancel(self) -> None:
        """Stop the answer if it is still under way (the visitor left): the provider call
        included."""
        if not self._task.done() and not self._task.cancelling():  # asked once: a second
            self._task.cancel()  # request would interrupt the provider stream's own closing
