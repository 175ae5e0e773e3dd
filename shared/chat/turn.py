"""The data of one chat turn: the visitor's question, the answer, what the API returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from shared.auth.principal import Principal
from shared.embeddings.base import Vector
from shared.llm.base import Usage

MAX_MESSAGE_CHARS = 2000  # the longest question a visitor may send

HANDOFF = {
    "en": "I'm not sure about that one. Please contact our team, they will be glad to help.",
    "de": "Da bin ich mir nicht sicher. Bitte wenden Sie sich an unser Team, es hilft gern.",
}


def handoff_text(bot: dict[str, Any]) -> str:
    configured = (bot.get("display") or {}).get("handoff_text")
    return str(configured) if configured else HANDOFF.get(bot.get("language", "en"), HANDOFF["en"])


def channel_of(principal: Principal) -> str:
    """Where a conversation comes from: the widget (a browser's publishable key) or the API."""
    return "widget" if principal.credential == "publishable_key" else "api"


def vouches_for_visitors(principal: Principal) -> bool:
    """A secret-key caller (a server) vouches for its own visitor ids; browsers need a token."""
    return principal.credential == "secret_key"


@dataclass
class Question:
    text: str
    conversation_id: UUID | None = None
    visitor_id: str | None = None
    visitor_token: str | None = None
    client_message_id: str | None = None
    channel: str = "widget"
    # A secret-key caller (a server) vouches for its own visitor ids; browsers need a token.
    trusted: bool = False

    @classmethod
    def from_caller(cls, principal: Principal, text: str, **fields: Any) -> Question:
        """A question from this caller: a browser (publishable key) or a server."""
        return cls(
            text=text,
            channel=channel_of(principal),
            trusted=vouches_for_visitors(principal),
            **fields,
        )


@dataclass
class Answer:
    text: str
    source: str  # faq | rag | fallback | cache
    faq_id: UUID | None = None
    matched_question: str | None = None
    confidence: float | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    provider: str | None = None
    model: str | None = None
    usage: Usage = field(default_factory=lambda: Usage(0, 0))
    ttft_ms: int | None = None
    error: str | None = None
    cost_usd: float = 0.0
    personal: bool = False  # holds a value of the visitor's (put back after the LLM call)
    # The question's embedding, when it was computed (the meaning cache keeps it).
    vector: Vector | None = None
    # Why this source answered: the rule, the FAQ match's confidence and threshold, ...
    why: dict[str, Any] | None = None


@dataclass
class ChatOutcome:
    conversation_id: UUID
    message_id: UUID
    answer: str
    source: str
    faq_id: UUID | None
    sources: list[dict[str, Any]]
    visitor_id: str
    visitor_token: str
    latency_ms: int
    why: dict[str, Any] | None = None
    state: str = "bot"  # the conversation's: waiting or human once a person is involved
    answered: bool = True  # False: stored for the person handling it; no answer given

    def public(self) -> dict[str, Any]:
        """The API's response object (DESIGN.md §3); for a message a person will answer,
        what was stored and the conversation's state."""
        if not self.answered:
            return {
                "conversation_id": str(self.conversation_id),
                "message_id": str(self.message_id),
                "state": self.state,
                "visitor_id": self.visitor_id,
                "visitor_token": self.visitor_token,
            }
        body: dict[str, Any] = {
            "conversation_id": str(self.conversation_id),
            "message_id": str(self.message_id),
            "answer": self.answer,
            "source": self.source,
            "sources": self.sources,
            "visitor_id": self.visitor_id,
            "visitor_token": self.visitor_token,
            "latency_ms": self.latency_ms,
            "state": self.state,
        }
        if self.faq_id is not None:
            body["faq_id"] = str(self.faq_id)
        # The FAQs offered with an answer the bot could not give, as stored with its reason.
        body["suggestions"] = (self.why or {}).get("suggested", [])
        if self.why is not None:
            body["why"] = self.why
        return body
