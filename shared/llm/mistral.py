"""Mistral's API (Mistral Small 3.1 by default) via the mistralai SDK."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import httpx2
from mistralai.client import Mistral
from mistralai.client.errors import MistralError
from mistralai.client.utils.retries import BackoffStrategy, RetryConfig

from shared.llm.base import (
    DEFAULT_DEADLINES,
    Deadlines,
    LLMError,
    LLMProvider,
    Usage,
    classify_status,
)
from shared.llm.timing import pieces_and_usage

_NO_RETRIES = RetryConfig("none", BackoffStrategy(1, 1, 1.0, 1), False)


class MistralProvider(LLMProvider):
    name = "mistral"
    # The API's current small model (Mistral Small 3.1 and its successors).
    default_model = "mistral-small-latest"

    def __init__(
        self, api_key: str, server_url: str | None = None, deadlines: Deadlines = DEFAULT_DEADLINES
    ) -> None:
        self._http = httpx2.AsyncClient(follow_redirects=True)
        self._client = Mistral(
            api_key=api_key,
            server_url=server_url,
            async_client=cast(Any, self._http),
            timeout_ms=int(deadlines.total * 1000),
            retry_config=_NO_RETRIES,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def stream_messages(
        self,
        messages: Sequence[dict[str, str]],
        *,
        model: str,
        max_tokens: int,
        deadlines: Deadlines,
    ) -> AsyncIterator[str | Usage]:
        try:
            response = await asyncio.wait_for(
                self._client.chat.stream_async(
                    model=model,
                    messages=cast(Any, list(messages)),
                    max_tokens=max_tokens,
                    temperature=0.2,
                ),
                timeout=deadlines.first_token,
            )
            async for item in pieces_and_usage(response, deadlines, _read_event):
                yield item
        except TimeoutError:
            raise LLMError(self.name, "timeout") from None
        except MistralError as exc:
            raise LLMError(
                self.name,
                classify_status(exc.status_code, getattr(exc, "body", None)),
                str(exc.status_code),
            ) from None
        except (httpx2.HTTPError, OSError) as exc:
            kind = "timeout" if isinstance(exc, httpx2.TimeoutException) else "network"
            raise LLMError(self.name, kind, type(exc).__name__) from None


def _read_event(event: Any) -> tuple[str, Usage | None]:
    data = event.data
    text = ""
    if data.choices:
        content = data.choices[0].delta.content
        text = content if isinstance(content, str) else ""
    usage = None
    if data.usage is not None:
        usage = Usage(data.usage.prompt_tokens or 0, data.usage.completion_tokens or 0)
    return text, usage
