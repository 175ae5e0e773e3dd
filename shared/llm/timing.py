"""Deadlines on a provider's stream (the first piece within ``first_token``, all within
``total``) and turning its chunks into text pieces and a final Usage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import TypeVar

from shared.llm.base import Deadlines, Usage

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


async def pieces_and_usage(
    stream: AsyncIterable[T], deadlines: Deadlines, read: Callable[[T], tuple[str, Usage | None]]
) -> AsyncIterator[str | Usage]:
    """Yield each chunk's text as it comes, then the last usage the stream reported."""
    usage: Usage | None = None
    async for chunk in first_then_rest(stream, deadlines):
        text, chunk_usage = read(chunk)
        if text:
            yield text
        if chunk_usage is not None:
            usage = chunk_usage
    yield usage or Usage(0, 0)
