"""Conversations and their messages. Message text is stored encrypted (see shared.crypto)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Conn
from shared.errors import NotFoundError

_CONVERSATION = (
    "c.id, c.tenant_id, c.bot_id, c.visitor_id, c.channel, c.message_count, c.started_at,"
    " c.last_message_at, c.state, c.assigned_name"
)
_MESSAGE = (
    "id, role, content_enc, source, faq_id, matched_question, confidence, provider, model,"
    " latency_ms, ttft_ms, tokens_in, tokens_out, cost_usd, feedback, sources, why, created_at,"
    " operator_name AS operator"
)


async def list_conversations(
    conn: Conn,
    *,
    tenant_id: UUID,
    bot_id: UUID,
    visitor_id: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
    source: str | None = None,
    feedback: int | None = None,
) -> list[dict[str, Any]]:
    """A page of the bot's conversations, newest first; ``source`` and ``feedback`` keep
    those with an answer from that source, or rated so."""
    cur = await conn.execute(
        f"SELECT {_CONVERSATION} FROM conversations c WHERE c.tenant_id = %(t)s"
        " AND c.bot_id = %(b)s AND (%(v)s::text IS NULL OR c.visitor_id = %(v)s)"
        " AND (%(since)s::timestamptz IS NULL OR c.last_message_at >= %(since)s)"
        " AND (%(until)s::timestamptz IS NULL OR c.started_at < %(until)s)"
        " AND (%(source)s::text IS NULL AND %(feedback)s::smallint IS NULL OR EXISTS ("
        "   SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.role = 'assistant'"
        "   AND (%(source)s::text IS NULL OR m.source = %(source)s)"
        "   AND (%(feedback)s::smallint IS NULL OR m.feedback = %(feedback)s)))"
        " ORDER BY c.last_message_at DESC, c.id LIMIT %(limit)s OFFSET %(offset)s",
        {
            "t": tenant_id,
            "b": bot_id,
            "v": visitor_id,
            "since": since,
            "until": until,
            "limit": limit,
            "offset": offset,
            "source": source,
            "feedback": feedback,
        },
    )
    return await cur.fetchall()


async def message_texts(conn: Conn, *, conversation_ids: list[UUID]) -> list[dict[str, Any]]:
    """Every message of these conversations, text still encrypted (for a text search)."""
    cur = await conn.execute(
        "SELECT conversation_id, content_enc FROM messages WHERE conversation_id = ANY(%s)",
        (conversation_ids,),
    )
    return await cur.fetchall()


async def get_conversation(
    conn: Conn, *, scope: UUID | None, conversation_id: UUID
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The conversation and its messages (text still encrypted), if in the caller's scope."""
    cur = await conn.execute(
        f"SELECT {_CONVERSATION} FROM conversations c WHERE c.id = %(id)s"
        " AND (%(scope)s::uuid IS NULL OR c.tenant_id = %(scope)s)",
        {"id": conversation_id, "scope": scope},
    )
    conversation = await cur.fetchone()
    if conversation is None:
        raise NotFoundError("conversation", conversation_id)
    cur = await conn.execute(
        f"SELECT {_MESSAGE} FROM messages WHERE conversation_id = %s ORDER BY created_at, id",
        (conversation_id,),
    )
    return conversation, await cur.fetchall()


async def set_feedback(
    conn: Conn,
    *,
    bot_id: UUID,
    message_id: UUID,
    visitor_id: str | None,
    rating: int,
    comment_enc: bytes | None,
) -> bool:
    """Record feedback on an answer; with ``visitor_id``, only on that visitor's answers."""
    cur = await conn.execute(
        "UPDATE messages m SET feedback = %s, feedback_comment_enc = %s FROM conversations c"
        " WHERE m.id = %s AND m.role = 'assistant' AND m.bot_id = %s AND c.id = m.conversation_id"
        " AND (%s::text IS NULL OR c.visitor_id = %s) RETURNING m.id",
        (rating, comment_enc, message_id, bot_id, visitor_id, visitor_id),
    )
    return await cur.fetchone() is not None


# The stored reply to a visitor's message sent with this client id (a retry), if any.
_PRIOR = """
prior AS (
    SELECT a.conversation_id, a.id, a.content_enc, a.source, a.faq_id, a.sources, a.latency_ms,
           a.why
      FROM messages q JOIN conversations c ON c.id = q.conversation_id
      JOIN LATERAL (SELECT * FROM messages a WHERE a.conversation_id = q.conversation_id
                       AND a.role = 'assistant' AND a.created_at >= q.created_at
                     ORDER BY a.created_at, a.id LIMIT 1) a ON true
     WHERE %(client_message_id)s::text IS NOT NULL AND c.bot_id = %(bot_id)s
       AND c.visitor_id = %(visitor_id)s AND q.client_message_id = %(client_message_id)s
       AND q.role = 'user'
     LIMIT 1
)"""
_PRIOR_COLUMNS = (
    "conversation_id",
    "id",
    "content_enc",
    "source",
    "faq_id",
    "sources",
    "latency_ms",
    "why",
)
_SELECT_PRIOR = ", ".join(f"(SELECT {c} FROM prior) AS prior_{c}" for c in _PRIOR_COLUMNS)


def _prior(row: dict[str, Any]) -> dict[str, Any] | None:
    prior = {c: row.pop(f"prior_{c}") for c in _PRIOR_COLUMNS}
    return prior if prior["id"] is not None else None


_CONTEXT = f"""
WITH {_PRIOR}
SELECT (SELECT c.state FROM conversations c WHERE c.id = %(conversation_id)s
                  AND c.bot_id = %(bot_id)s AND c.visitor_id = %(visitor_id)s) AS state,
       h.roles, h.contents,
       (SELECT coalesce(sum(tokens_in + tokens_out), 0) FROM llm_usage_daily
         WHERE bot_id = %(bot_id)s AND day = current_date) AS tokens_today,
       {_SELECT_PRIOR}
  FROM (SELECT array_agg(m.role ORDER BY m.created_at, m.id) AS roles,
               array_agg(m.content_enc ORDER BY m.created_at, m.id) AS contents
          FROM (SELECT role, content_enc, created_at, id FROM messages
                 WHERE conversation_id = %(conversation_id)s
                 ORDER BY created_at DESC, id DESC LIMIT %(history)s) m) h
"""


@dataclass(frozen=True)
class TurnContext:
    owned: bool  # the conversation exists and is this visitor's (False when new)
    state: str  # the conversation's ("bot" when new): the bot answers only in "bot"
    history: list[tuple[str, bytes]]  # (role, encrypted text), oldest first
    tokens_today: int  # LLM tokens the bot has spent today
    prior: dict[str, Any] | None  # the stored reply when this message is a retry

    @classmethod
    def first_question(cls) -> TurnContext:
        """A new visitor's first question: nothing stored to read (the day's usage left at 0,
        for a bot without a daily budget)."""
        return cls(False, "bot", [], 0, None)


async def turn_context(
    conn: Conn,
    *,
    bot_id: UUID,
    visitor_id: str,
    conversation_id: UUID | None,
    client_message_id: str | None,
    history: int,
) -> TurnContext:
    """What generating an answer needs to know, in one statement."""
    cur = await conn.execute(
        _CONTEXT,
        {
            "bot_id": bot_id,
            "visitor_id": visitor_id,
            "conversation_id": conversation_id,
            "client_message_id": client_message_id,
            "history": history,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    prior = _prior(row)
    owned = row["state"] is not None
    pairs = list(zip(row["roles"] or [], row["contents"] or [], strict=True)) if owned else []
    state = "bot" if row["state"] in (None, "closed") else str(row["state"])
    return TurnContext(owned, state, pairs, int(row["tokens_today"]), prior)


_EXCHANGE = f"""
WITH {_PRIOR},
conv AS (
    INSERT INTO conversations AS c (id, tenant_id, bot_id, visitor_id, channel, message_count)
    SELECT coalesce(%(conversation_id)s, gen_random_uuid()), %(tenant_id)s, %(bot_id)s,
           %(visitor_id)s, %(channel)s, 2
     WHERE NOT EXISTS (SELECT 1 FROM prior)
    ON CONFLICT (id) DO UPDATE
       SET message_count = c.message_count
               + CASE WHEN %(answer_enc)s::bytea IS NOT NULL
                       AND (c.state IN ('bot', 'closed') OR %(answer_streamed)s) THEN 2 ELSE 1 END,
           last_message_at = now(),
           state = CASE WHEN c.state = 'closed' THEN 'bot' ELSE c.state END
     WHERE c.bot_id = EXCLUDED.bot_id AND c.visitor_id = EXCLUDED.visitor_id
    -- The row is locked now: timestamps taken after this sort as the commits did.
    RETURNING id, state, clock_timestamp() AS at
),
question AS (
    INSERT INTO messages (conversation_id, bot_id, role, content_enc, client_message_id,
                          created_at)
    SELECT id, %(bot_id)s, 'user', %(question_enc)s, %(client_message_id)s, at FROM conv
    RETURNING id
),
answer AS (
    INSERT INTO messages (conversation_id, bot_id, role, content_enc, source, faq_id,
                          matched_question, confidence, provider, model, latency_ms, ttft_ms,
                          tokens_in, tokens_out, cost_usd, sources, error, why, created_at)
    SELECT id, %(bot_id)s, 'assistant', %(answer_enc)s, %(source)s, %(faq_id)s,
           %(matched_question)s, %(confidence)s, %(provider)s, %(model)s, %(latency_ms)s,
           %(ttft_ms)s, %(tokens_in)s, %(tokens_out)s, %(cost_usd)s, %(sources)s, %(error)s,
           %(why)s, at + interval '1 microsecond'  -- the answer sorts after its question
      FROM conv
     -- While a person handles the conversation the bot's ready answer is not given; an
     -- answer already streamed to the visitor is kept whatever happened meanwhile.
     WHERE %(answer_enc)s::bytea IS NOT NULL AND (conv.state = 'bot' OR %(answer_streamed)s)
    RETURNING id
),
hit AS (
    UPDATE faqs SET hits = hits + 1
     WHERE id = %(hit_faq_id)s AND EXISTS (SELECT 1 FROM answer)
),
usage AS (
    INSERT INTO llm_usage_daily AS u (bot_id, day, provider, tokens_in, tokens_out, cost_usd)
    SELECT %(bot_id)s, current_date, %(billed_provider)s, %(tokens_in)s, %(tokens_out)s,
           %(cost_usd)s
     WHERE %(billed_provider)s::text IS NOT NULL AND EXISTS (SELECT 1 FROM answer)
    ON CONFLICT (bot_id, day, provider) DO UPDATE
       SET tokens_in = u.tokens_in + EXCLUDED.tokens_in,
           tokens_out = u.tokens_out + EXCLUDED.tokens_out,
           cost_usd = u.cost_usd + EXCLUDED.cost_usd
)
SELECT (SELECT id FROM conv) AS conversation_id, (SELECT id FROM answer) AS message_id,
       (SELECT id FROM question) AS question_id, (SELECT state FROM conv) AS state,
       {_SELECT_PRIOR}
"""

_ANSWER_COLUMNS = (
    "source",
    "faq_id",
    "matched_question",
    "confidence",
    "provider",
    "model",
    "latency_ms",
    "ttft_ms",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "error",
)


@dataclass(frozen=True)
class Stored:
    conversation_id: UUID
    message_id: UUID  # the answer's; the question's when no answer was stored
    prior: dict[str, Any] | None  # set when the message was a retry: nothing new was stored
    state: str = "bot"  # the conversation's: not "bot" while a person is involved
    answered: bool = True  # False: the question was stored for a person, no answer given


async def store_exchange(
    conn: Conn,
    *,
    tenant_id: UUID,
    bot_id: UUID,
    conversation_id: UUID | None,
    visitor_id: str,
    channel: str,
    question_enc: bytes,
    client_message_id: str | None,
    answer_enc: bytes | None,
    faq_hit: bool,
    billed_provider: str | None,
    answer_streamed: bool = False,
    **answer: Any,
) -> Stored:
    """A question and its answer, their conversation (created if new), the FAQ's hit
    counter and the provider's daily usage, in one statement. ``answer`` holds the answer's
    message columns. A retry of a message already answered stores nothing and returns the
    stored reply as ``prior``; another visitor's or bot's conversation is a 404."""
    params = {name: answer.get(name) for name in _ANSWER_COLUMNS}
    params.update(
        tenant_id=tenant_id,
        bot_id=bot_id,
        conversation_id=conversation_id,
        visitor_id=visitor_id,
        channel=channel,
        question_enc=question_enc,
        client_message_id=client_message_id,
        answer_enc=answer_enc,
        sources=Jsonb(answer.get("sources") or []),
        why=Jsonb(answer["why"]) if answer.get("why") else None,
        hit_faq_id=answer.get("faq_id") if faq_hit else None,
        billed_provider=billed_provider,
        answer_streamed=answer_streamed,
    )
    params["tokens_in"] = params["tokens_in"] or 0
    params["tokens_out"] = params["tokens_out"] or 0
    params["cost_usd"] = params["cost_usd"] or 0
    cur = await conn.execute(_EXCHANGE, params)
    row = await cur.fetchone()
    assert row is not None
    prior = _prior(row)
    if prior is not None:
        return Stored(prior["conversation_id"], prior["id"], prior)
    if row["conversation_id"] is None:
        raise NotFoundError("conversation", conversation_id)
    answered = row["message_id"] is not None
    message_id = row["message_id"] if answered else row["question_id"]
    return Stored(row["conversation_id"], message_id, None, row["state"], answered)
