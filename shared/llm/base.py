"""The provider interface: given a question and its sources, stream an answer as text
pieces, then report usage. Remote providers turn a Generation into chat messages
(``shared.llm.prompt``); the extractive provider reads the passages directly."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal

from shared.rag.retrieve import Passage


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Generation:
    """What an answer is generated from."""

    question: str
    passages: Sequence[Passage]
    history: Sequence[ChatMessage] = ()
    instructions: str = ""
    language: str = "en"  # the bot's: how the offline answerer reads the passages


@dataclass(frozen=True)
class Usage:
    tokens_in: int
    tokens_out: int


@dataclass(frozen=True)
class Deadlines:
    """Parley's own limits; the SDKs' defaults would wait for minutes."""

    connect: float = 3.0
    first_token: float = 15.0
    total: float = 60.0


DEFAULT_DEADLINES = Deadlines()


class LLMError(Exception):
    """A provider failed. ``kind`` is timeout, rate_limited, quota, auth, server, client or
    network."""

    def __init__(self, provider: str, kind: str, detail: str = "") -> None:
        self.provider = provider
        self.kind = kind
        super().__init__(f"{provider}: {kind}{f' ({detail})' if detail else ''}")


class NotInSources(Exception):
    """A provider read the sources and found nothing in them that answers: the bot hands
    over, as when nothing was retrieved (not a failure: no other provider is tried)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        super().__init__(f"{provider}: the sources do not answer the question")


class LLMProvider(ABC):
    name: str
    default_model: str
    # Whether what it is sent leaves Parley (a provider's API): the visitor's personal data
    # is then withheld, where the bot says so (``shared.privacy``).
    remote: bool = True

    def stream(
        self,
        request: Generation,
        *,
        model: str,
        max_tokens: int,
        deadlines: Deadlines,
    ) -> AsyncIterator[str | Usage]:
        """Yield text pieces as the model produces them, and a Usage at the end.

        Raises LLMError; never an SDK exception. A remote provider is sent the prompt of
        ``shared.llm.prompt``; the extractive one reads the passages itself.
        """
        from shared.llm.prompt import wire_messages  # it builds on this module's types

        return self.stream_messages(
            wire_messages(request), model=model, max_tokens=max_tokens, deadlines=deadlines
        )

    @abstractmethod
    def stream_messages(
        self,
        messages: Sequence[dict[str, str]],
        *,
        model: str,
        max_tokens: int,
        deadlines: Deadlines,
    ) -> AsyncIterator[str | Usage]:
        """Like :meth:`stream`, for wire-format chat messages: the answer's prompt, or one of
        Parley's own (``shared.faq_paraphrase``, ``shared.chat.faq_check``)."""

    async def aclose(self) -> None:  # noqa: B027  (providers without connections need nothing)
        """Close the provider's HTTP connections."""


def classify_status(status: int | None, body: object = None) -> str:
    """The kind of a provider's HTTP failure. A 429 whose body says the quota is used up
    is a billing stop ("quota"), not a burst; it and a refused key ("auth") do not get
    better by retrying soon."""
    if status == 402 or (status == 429 and "quota" in str(body or "").lower()):
        return "quota"
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status is not None and status >= 500:
        return "server"
    if status is not None and status >= 400:
        return "client"
    return "network"
