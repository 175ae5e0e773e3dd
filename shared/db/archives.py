"""Chat-log archives: which conversations are past retention, reading them out, and
recording an uploaded archive object while deleting what it holds (one transaction)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from shared.db.pool import Conn

_DUE = """
SELECT c.bot_id, (c.last_message_at AT TIME ZONE 'UTC')::date AS day
  FROM conversations c JOIN bots b ON b.id = c.bot_id
 WHERE b.retention_days IS NOT NULL
   AND c.last_message_at < %(now)s - make_interval(days => b.retention_days)
 GROUP BY 1, 2 ORDER BY 2, 1
"""


async def due(conn: Conn, *, now: datetime) -> list[dict[str, Any]]:
    """(bot_id, day) pairs with conversations past the bot's retention, oldest first."""
    return await (await conn.execute(_DUE, {"now": now})).fetchall()


async def names(conn: Conn, *, bot_id: UUID) -> dict[str, Any] | None:
    """The bot's and its tenant's slugs (``bot``, ``tenant``) and its ``tenant_id``."""
    cur = await conn.execute(
        "SELECT b.slug AS bot, b.tenant_id, t.slug AS tenant FROM bots b"
        " JOIN tenants t ON t.id = b.tenant_id WHERE b.id = %s",
        (bot_id,),
    )
    return await cur.fetchone()


async def due_conversations(
    conn: Conn, *, bot_id: UUID, day: date, now: datetime
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT c.id, c.visitor_id, c.channel, c.started_at, c.last_message_at"
        " FROM conversations c JOIN bots b ON b.id = c.bot_id WHERE c.bot_id = %s"
        " AND (c.last_message_at AT TIME ZONE 'UTC')::date = %s"
        " AND c.last_message_at < %s - make_interval(days => b.retention_days) ORDER BY c.id",
        (bot_id, day, now),
    )
    return await cur.fetchall()


async def messages_of(conn: Conn, *, conversation_ids: list[UUID]) -> list[dict[str, Any]]:
    """The conversations' messages, text still encrypted, in order."""
    cur = await conn.execute(
        "SELECT conversation_id, role, content_enc, source, faq_id, provider, model,"
        " latency_ms, tokens_in, tokens_out, feedback, sources, created_at FROM messages"
        " WHERE conversation_id = ANY(%s) ORDER BY created_at, id",
        (conversation_ids,),
    )
    return await cur.fetchall()


async def parts_recorded(conn: Conn, *, bot_id: UUID, day: date) -> int:
    cur = await conn.execute(
        "SELECT count(*) AS n FROM archives WHERE bot_id = %s AND day = %s", (bot_id, day)
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def record_and_delete(
    conn: Conn,
    *,
    tenant_id: UUID,
    bot_id: UUID,
    day: date,
    object_key: str,
    conversation_ids: list[UUID],
    message_count: int,
) -> None:
    """Record the uploaded object and delete the conversations it holds, atomically."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO archives (tenant_id, bot_id, day, object_key, conversation_count,"
            " message_count) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (object_key) DO NOTHING",
            (tenant_id, bot_id, day, object_key, len(conversation_ids), message_count),
        )
        await conn.execute("DELETE FROM conversations WHERE id = ANY(%s)", (conversation_ids,))
