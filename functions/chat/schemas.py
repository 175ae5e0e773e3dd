"""Request and response bodies of the chat API."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.chat.turn import MAX_MESSAGE_CHARS
from shared.http.endpoints import RequestModel

VisitorId = Annotated[str, Field(min_length=1, max_length=200)]


class ChatRequest(RequestModel):
    message: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    conversation_id: UUID | None = None
    visitor_id: VisitorId | None = None
    visitor_token: Annotated[str, Field(max_length=200)] | None = None
    bot_id: UUID | None = None
    client_message_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class Source(BaseModel):
    title: str
    url: str | None
    document_id: str
    chunk_id: int


class ChatResponse(BaseModel):
    conversation_id: UUID
    message_id: UUID
    answer: str
    source: Literal["faq", "rag", "fallback", "cache"]
    faq_id: UUID | None = None
    sources: list[Source]
    visitor_id: str
    visitor_token: str
    latency_ms: int
    why: dict[str, Any] | None = Field(
        None,
        description="What chose the source: rule (faq_above_threshold, faq_grey_zone,"
        " documents, no_answer, answer_cache), faq_confidence, threshold, threshold_from"
        " (bot or default), closest_passage",
    )


class FeedbackRequest(RequestModel):
    message_id: UUID
    rating: Literal[1, -1]
    comment: Annotated[str, Field(max_length=2000)] | None = None
    visitor_id: VisitorId | None = None
    visitor_token: Annotated[str, Field(max_length=200)] | None = None
    bot_id: UUID | None = None


class Ok(BaseModel):
    ok: bool = True


class WidgetConfig(BaseModel):
    bot_id: UUID
    name: str
    language: str
    title: str
    greeting: str
    handoff_text: str
    starter_questions: list[str]
    primary_color: str
    position: str
    greeting_delay_seconds: int | None
    contact_url: str | None


def widget_config(bot: dict[str, Any], handoff: str) -> WidgetConfig:
    display = bot.get("display") or {}
    return WidgetConfig(
        bot_id=bot["id"],
        name=bot["name"],
        language=bot["language"],
        title=display.get("title") or bot["name"],
        greeting=display.get("greeting") or "",
        handoff_text=handoff,
        starter_questions=list(display.get("starter_questions") or []),
        primary_color=display.get("primary_color") or "#2f6b4f",
        position=display.get("position") or "right",
        greeting_delay_seconds=display.get("greeting_delay_seconds"),
        contact_url=display.get("contact_url"),
    )
