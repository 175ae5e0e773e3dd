"""Request and response bodies of the chat API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.chat.turn import MAX_MESSAGE_CHARS
from shared.handoff.hours import availability
from shared.http.endpoints import RequestModel

VisitorId = Annotated[str, Field(min_length=1, max_length=200)]
VisitorToken = Annotated[str, Field(max_length=200)]
PersonName = Annotated[str, Field(max_length=200)]
Email = Annotated[str, Field(min_length=3, max_length=254)]
State = Literal["bot", "waiting", "human", "closed"]


class ChatRequest(RequestModel):
    message: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    conversation_id: UUID | None = None
    visitor_id: VisitorId | None = None
    visitor_token: VisitorToken | None = None
    bot_id: UUID | None = None
    client_message_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class Source(BaseModel):
    title: str
    url: str | None
    document_id: str
    chunk_id: int


class Suggestion(BaseModel):
    faq_id: UUID
    question: str


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
    state: State = Field(
        "bot", description="The conversation's: waiting or human once a person is involved"
    )
    suggestions: list[Suggestion] = Field(
        default_factory=list,
        description="With a fallback answer: the FAQs the visitor may have meant (those near the"
        " question by their phrasings, best first, then the one whose answer is nearest to it;"
        " at most three); asking one's question is answered from that FAQ",
    )
    why: dict[str, Any] | None = Field(
        None,
        description="What chose the source: rule (faq_above_threshold, faq_grey_zone,"
        " faq_checked, faq_answer_agrees, documents, no_answer, answer_cache, spending_cap),"
        " faq_confidence, threshold, threshold_from (bot or default), closest_passage,"
        " answer_similarity (faq_answer_agrees: the FAQ's answer's cosine to the question,"
        " nothing else answering), checked_by and"
        " faq_check (a grey-zone match put to the bot's LLM: who answered, and 'none' when"
        " no FAQ shown answers), faq_lacks (the question's words, stemmed, that no FAQ holds"
        " and a passage does: why a match above the threshold gave way to the documents),"
        " personal_data_withheld (kinds counted, never values), suggested (the FAQs offered"
        " with a fallback answer), offered_for_answer (the one of them offered only because"
        " its answer is the nearest to the question: faq_id, answer_similarity)",
    )


class Received(BaseModel):
    """202: a person handles the conversation; the message waits for them."""

    conversation_id: UUID
    message_id: UUID
    state: State
    visitor_id: str
    visitor_token: str


class HandoffRequest(RequestModel):
    conversation_id: UUID | None = Field(
        None, description="Omitted: a new conversation, for a visitor who asks a person first"
    )
    visitor_token: VisitorToken | None = None
    visitor_id: VisitorId | None = None
    name: PersonName | None = None
    email: Email | None = Field(None, description="Required outside the bot's business hours")
    bot_id: UUID | None = None


class HandoffStatus(BaseModel):
    conversation_id: UUID
    state: State
    visitor_id: str
    visitor_token: str
    available: bool = Field(description="Whether someone is there now (business hours)")
    opens_at: datetime | None = Field(description="When someone is next there, if not now")
    hours: str | None = Field(description='The business hours, e.g. "Mon–Fri 09:00–17:00"')


class VisitorMessage(BaseModel):
    message_id: UUID
    role: Literal["user", "assistant", "operator"]
    text: str
    operator: str | None = None
    created_at: datetime


class ConversationUpdates(BaseModel):
    conversation_id: UUID
    state: State
    messages: list[VisitorMessage]


class FeedbackRequest(RequestModel):
    message_id: UUID
    rating: Literal[1, -1]
    comment: Annotated[str, Field(max_length=2000)] | None = None
    visitor_id: VisitorId | None = None
    visitor_token: VisitorToken | None = None
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
    handoff_enabled: bool
    handoff_available: bool
    handoff_opens_at: datetime | None
    handoff_hours: str | None
    remember_conversation: str


def widget_config(bot: dict[str, Any], handoff: str) -> WidgetConfig:
    display = bot.get("display") or {}
    hours = availability(bot)
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
        handoff_enabled=bool(bot.get("handoff_enabled", True)),
        handoff_available=hours["available"],
        handoff_opens_at=hours["opens_at"],
        handoff_hours=hours["hours"],
        remember_conversation=display.get("remember_conversation") or "tab",
    )
