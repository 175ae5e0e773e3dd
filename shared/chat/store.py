"""Storing a chat turn: both messages encrypted, in one statement, and the outcome the
caller gets back (also for a retry, which gets the reply stored the first time)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from shared.chat.turn import Answer, ChatOutcome, Question
from shared.crypto import TenantCipher
from shared.db import conversations
from shared.db.pool import Conn


@dataclass(frozen=True)
class Turn:
    """Who asked what, where, and since when."""

    bot: dict[str, Any]
    question: Question
    visitor_id: str
    visitor_token: str
    cipher: TenantCipher
    started: float  # time.perf_counter() when the request arrived

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


async def save(
    conn: Conn, turn: Turn, answer: Answer, latency_ms: int, *, streamed: bool = False
) -> conversations.Stored:
    """Store the question and its answer. A ready answer (``streamed`` False) is not given
    when a person has the conversation meanwhile: then only the question is stored."""
    billed = answer.provider if answer.provider not in (None, "extractive") else None
    return await conversations.store_exchange(
        conn,
        **_question(turn),
        answer_enc=turn.cipher.encrypt(answer.text),
        faq_hit=answer.source == "faq",
        billed_provider=billed,
        answer_streamed=streamed,
        source=answer.source,
        faq_id=answer.faq_id,
        matched_question=answer.matched_question,
        confidence=answer.confidence,
        provider=answer.provider,
        model=answer.model,
        latency_ms=latency_ms,
        ttft_ms=answer.ttft_ms if answer.ttft_ms is not None else 0,
        tokens_in=answer.usage.tokens_in,
        tokens_out=answer.usage.tokens_out,
        cost_usd=answer.cost_usd,
        sources=answer.sources,
        error=answer.error,
        why=answer.why,
    )


async def save_for_person(conn: Conn, turn: Turn) -> conversations.Stored:
    """Store the visitor's message, unanswered: a person has the conversation."""
    return await conversations.store_exchange(
        conn, **_question(turn), answer_enc=None, faq_hit=False, billed_provider=None
    )


def _question(turn: Turn) -> dict[str, Any]:
    """The stored exchange's columns that come from the visitor's side of the turn."""
    return {
        "tenant_id": turn.bot["tenant_id"],
        "bot_id": turn.bot["id"],
        "conversation_id": turn.question.conversation_id,
        "visitor_id": turn.visitor_id,
        "channel": turn.question.channel,
        "question_enc": turn.cipher.encrypt(turn.question.text),
        "client_message_id": turn.question.client_message_id,
    }


def outcome(
    turn: Turn, stored: conversations.Stored, answer: Answer, latency_ms: int
) -> ChatOutcome:
    if stored.prior is not None:
        return replayed(turn, stored.prior)
    if not stored.answered:
        return received(turn, stored)
    return ChatOutcome(
        conversation_id=stored.conversation_id,
        message_id=stored.message_id,
        answer=answer.text,
        source=answer.source,
        faq_id=answer.faq_id,
        sources=answer.sources,
        visitor_id=turn.visitor_id,
        visitor_token=turn.visitor_token,
        latency_ms=latency_ms,
        why=answer.why,
        state=stored.state,
    )


def received(turn: Turn, stored: conversations.Stored) -> ChatOutcome:
    """The visitor's message was stored for the person handling the conversation."""
    return ChatOutcome(
        conversation_id=stored.conversation_id,
        message_id=stored.message_id,
        answer="",
        source="none",
        faq_id=None,
        sources=[],
        visitor_id=turn.visitor_id,
        visitor_token=turn.visitor_token,
        latency_ms=turn.elapsed_ms(),
        state=stored.state,
        answered=False,
    )


def replayed(turn: Turn, prior: dict[str, Any]) -> ChatOutcome:
    """The reply stored when this message first arrived (the client is retrying)."""
    return ChatOutcome(
        conversation_id=prior["conversation_id"],
        message_id=prior["id"],
        answer=turn.cipher.decrypt(prior["content_enc"]),
        source=prior["source"],
        faq_id=prior["faq_id"],
        sources=prior["sources"],
        visitor_id=turn.visitor_id,
        visitor_token=turn.visitor_token,
        latency_ms=prior["latency_ms"] or 0,
        why=prior["why"],
    )
