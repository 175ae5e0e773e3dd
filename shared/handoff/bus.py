"""Fan-out of conversation changes across processes: PostgreSQL ``LISTEN``/``NOTIFY``.

A visitor's socket may live in one process and the operator's reply arrive in another.
Whoever changes a conversation notifies :data:`~shared.db.handoff.CHANNEL` with its id
(ids only, never text, see :mod:`shared.db.handoff`); each process holds one listening
connection, opened when the first socket subscribes, and wakes that conversation's
subscribers, who read what is new from the database. When the listening connection
breaks (a database restart) it is opened again with back-off, and every subscriber is
woken once it is back, so what was committed meanwhile is read, not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

import psycopg

from shared.db.handoff import CHANNEL
from shared.logging import get_logger

log = get_logger("parley.handoff")

RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


class Subscription:
    """What one subscriber is woken by: a change of its conversation (or a reconnect)."""

    def __init__(self, bus: ConversationBus, conversation_id: UUID) -> None:
        self._bus = bus
        self.conversation_id = conversation_id
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """True when woken before ``timeout`` seconds; either way ready to wait again."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True

    def close(self) -> None:
        self._bus._remove(self)


class ConversationBus:
    def __init__(self, url: str) -> None:
        self._url = url
        self._subscribers: dict[UUID, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def subscribe(self, conversation_id: UUID) -> Subscription:
        subscription = Subscription(self, conversation_id)
        self._subscribers.setdefault(conversation_id, set()).add(subscription)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(), name="parley-conversation-bus")
        return subscription

    @contextlib.asynccontextmanager
    async def watching(self, conversation_id: UUID) -> AsyncIterator[Subscription]:
        subscription = self.subscribe(conversation_id)
        try:
            yield subscription
        finally:
            subscription.close()

    def _remove(self, subscription: Subscription) -> None:
        group = self._subscribers.get(subscription.conversation_id)
        if group is not None:
            group.discard(subscription)
            if not group:
                del self._subscribers[subscription.conversation_id]

    def _wake(self, conversation_id: UUID | None) -> None:
        if conversation_id is None:
            groups = list(self._subscribers.values())
        else:
            groups = [self._subscribers.get(conversation_id, set())]
        for group in groups:
            for subscription in list(group):
                subscription.wake()

    async def _listen(self) -> None:
        attempt = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if attempt:
                        log.info("conversation listener reconnected", attempts=attempt)
                    attempt = 0
                    self.connected.set()
                    self._wake(None)  # read whatever was committed while not listening
                    async for note in conn.notifies():
                        conversation_id = _conversation_id(note.payload)
                        if conversation_id is not None:
                            self._wake(conversation_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: listen again when it is back
                self.connected.clear()
                delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                attempt += 1
                if attempt == 1:
                    log.warning("conversation listener lost", error=type(exc).__name__)
                await asyncio.sleep(delay)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        self.connected.clear()


def _conversation_id(payload: str) -> UUID | None:
    try:
        return UUID(payload)
    except ValueError:
        return None
