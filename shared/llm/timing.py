"""Deadlines on a stream: the first piece within ``first_token``, all within ``total``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import TypeVar

from shared.llm.base import Deadlines

T = TypeVar("T")


async def first_then_rest(stream: AsyncIterable[T], deadlines: Deadlines) -> AsyncIterator[T]:
    iterator = stream.__aiter__()
    end = time.monotonic() + deadlines.total
    first = True
    try:
        while True:
            limit = deadlines.first_token if first else end - time.monotonic()
            try:
                item = await asyncio.wait_for(iterator.__anext__(), timeout=max(0.0, limit))
            except StopAsyncIteration:
                return
            first = False
            yield item
    finally:
        close = getattr(iterator, "aclose", None) or getattr(stream, "aclose", None)
        if close is not None:
            await close()
