"""Row factories for tests: conversations and single messages written directly.

Production code stores a whole exchange at once (``shared.db.conversations.store_exchange``);
tests also need conversations without messages, lone messages and chosen timestamps.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Conn

_MESSAGE_COLUMNS = {
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
    "feedback",
    "sources",
    "client_message_id",
    "error",
}


async def create_conversation(
    conn: Conn, *, tenant_id: UUID, bot_id: UUID, visitor_id: str, channel: str = "widget"
) -> UUID:
    cur = await conn.execute(
        "INSERT INTO conversations (tenant_id, bot_id, visitor_id, channel)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (tenant_id, bot_id, visitor_id, channel),
    )
    row = await cur.fetchone()
    assert row is not None
    conversation_id: UUID = row["id"]
    return conversation_id


async def add_message(
    conn: Conn,
    *,
    conversation_id: UUID,
    bot_id: UUID,
    role: str,
    content_enc: bytes,
    **fields: Any,
) -> UUID:
    """Store one message; ``fields`` are optional message columns (source, latency_ms, …)."""
    allowed = {k: v for k, v in fields.items() if k in _MESSAGE_COLUMNS}
    if "sources" in allowed:
        allowed["sources"] = Jsonb(allowed["sources"])
    columns = ["conversation_id", "bot_id", "role", "content_enc", *allowed]
    cur = await conn.execute(
        f"INSERT INTO messages ({', '.join(columns)})"
        f" VALUES ({', '.join(f'%({c})s' for c in columns)}) RETURNING id",
        {
            "conversation_id": conversation_id,
            "bot_id": bot_id,
            "role": role,
            "content_enc": content_enc,
            **allowed,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    await conn.execute(
        "UPDATE conversations SET message_count = message_count + 1, last_message_at = now()"
        " WHERE id = %s",
        (conversation_id,),
    )
    message_id: UUID = row["id"]
    return message_id


async def add_exchange(
    conn: Conn,
    *,
    conversation_id: UUID,
    bot_id: UUID,
    question_enc: bytes,
    answer_enc: bytes,
    **answer: Any,
) -> UUID:
    """A visitor's message and the answer to it; ``answer`` holds the answer's columns."""
    await add_message(
        conn, conversation_id=conversation_id, bot_id=bot_id, role="user", content_enc=question_enc
    )
    return await add_message(
        conn,
        conversation_id=conversation_id,
        bot_id=bot_id,
        role="assistant",
        content_enc=answer_enc,
        **answer,
    )
