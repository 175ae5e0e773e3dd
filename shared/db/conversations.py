"""Conversations and their messages. Message text is stored encrypted (see shared.crypto)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Conn
from shared.errors import NotFoundError

_CONVERSATION = (
    "c.id, c.tenant_id, c.bot_id, c.visitor_id, c.channel, c.message_count, c.started_at,"
    " c.last_message_at"
)
_MESSAGE = (
    "id, role, content_enc, source, faq_id, matched_question, confidence, provider, model,"
    " latency_ms, ttft_ms, tokens_in, tokens_out, cost_usd, feedback, sources, created_at"
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
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_CONVERSATION} FROM conversations c WHERE c.tenant_id = %(t)s"
        " AND c.bot_id = %(b)s AND (%(v)s::text IS NULL OR c.visitor_id = %(v)s)"
        " AND (%(since)s::timestamptz IS NULL OR c.last_message_at >= %(since)s)"
        " AND (%(until)s::timestamptz IS NULL OR c.started_at < %(until)s)"
        " ORDER BY c.last_message_at DESC, c.id LIMIT %(limit)s OFFSET %(offset)s",
        {
            "t": tenant_id,
            "b": bot_id,
            "v": visitor_id,
            "since": since,
            "until": until,
            "limit": limit,
            "offset": offset,
        },
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


async def get_owned_conversation(
    conn: Conn, *, bot_id: UUID, conversation_id: UUID, visitor_id: str
) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"SELECT {_CONVERSATION} FROM conversations c WHERE c.id = %s AND c.bot_id = %s"
        " AND c.visitor_id = %s",
        (conversation_id, bot_id, visitor_id),
    )
    return await cur.fetchone()


async def recent_messages(conn: Conn, *, conversation_id: UUID, limit: int) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT role, content_enc FROM (SELECT role, content_enc, created_at, id FROM messages"
        " WHERE conversation_id = %s ORDER BY created_at DESC, id DESC LIMIT %s) m"
        " ORDER BY created_at, id",
        (conversation_id, limit),
    )
    return await cur.fetchall()


async def find_reply(
    conn: Conn, *, bot_id: UUID, visitor_id: str, client_message_id: str
) -> dict[str, Any] | None:
    """The stored answer to a visitor's message sent with this client id, if any."""
    cur = await conn.execute(
        f"SELECT a.conversation_id, {', '.join('a.' + c for c in _MESSAGE.split(', '))}"
        " FROM messages q JOIN conversations c ON c.id = q.conversation_id"
        " JOIN LATERAL (SELECT * FROM messages a WHERE a.conversation_id = q.conversation_id"
        "   AND a.role = 'assistant' AND a.created_at >= q.created_at"
        "   ORDER BY a.created_at, a.id LIMIT 1) a ON true"
        " WHERE c.bot_id = %s AND c.visitor_id = %s AND q.client_message_id = %s"
        " AND q.role = 'user'",
        (bot_id, visitor_id, client_message_id),
    )
    return await cur.fetchone()


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


_EXCHANGE = """
WITH conv AS (
    INSERT INTO conversations AS c (id, tenant_id, bot_id, visitor_id, channel, message_count)
    VALUES (coalesce(%(conversation_id)s, gen_random_uuid()), %(tenant_id)s, %(bot_id)s,
            %(visitor_id)s, %(channel)s, 2)
    ON CONFLICT (id) DO UPDATE
       SET message_count = c.message_count + 2, last_message_at = now()
     WHERE c.bot_id = EXCLUDED.bot_id AND c.visitor_id = EXCLUDED.visitor_id
    RETURNING id
),
question AS (
    INSERT INTO messages (conversation_id, bot_id, role, content_enc, client_message_id,
                          created_at)
    SELECT id, %(bot_id)s, 'user', %(question_enc)s, %(client_message_id)s, now() FROM conv
),
answer AS (
    INSERT INTO messages (conversation_id, bot_id, role, content_enc, source, faq_id,
                          matched_question, confidence, provider, model, latency_ms, ttft_ms,
                          tokens_in, tokens_out, cost_usd, sources, error, created_at)
    SELECT id, %(bot_id)s, 'assistant', %(answer_enc)s, %(source)s, %(faq_id)s,
           %(matched_question)s, %(confidence)s, %(provider)s, %(model)s, %(latency_ms)s,
           %(ttft_ms)s, %(tokens_in)s, %(tokens_out)s, %(cost_usd)s, %(sources)s, %(error)s,
           now() + interval '1 microsecond'  -- the answer sorts after its question
      FROM conv
    RETURNING id
),
hit AS (
    UPDATE faqs SET hits = hits + 1 WHERE id = %(hit_faq_id)s
)
SELECT (SELECT id FROM conv) AS conversation_id, (SELECT id FROM answer) AS message_id
"""


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
    answer_enc: bytes,
    faq_hit: bool,
    **answer: Any,
) -> tuple[UUID, UUID]:
    """A question and its answer, their conversation (created if new) and the FAQ's hit
    counter, in one statement. ``answer`` holds the answer's message columns."""
    columns = (
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
    params = {name: answer.get(name) for name in columns}
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
        hit_faq_id=answer.get("faq_id") if faq_hit else None,
    )
    params["tokens_in"] = params["tokens_in"] or 0
    params["tokens_out"] = params["tokens_out"] or 0
    params["cost_usd"] = params["cost_usd"] or 0
    cur = await conn.execute(_EXCHANGE, params)
    row = await cur.fetchone()
    if row is None or row["conversation_id"] is None:
        raise NotFoundError("conversation", conversation_id)
    return row["conversation_id"], row["message_id"]
