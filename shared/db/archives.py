"""Chat-log archives: which conversations are past retention, reading them out, and
recording an uploaded archive object while deleting what it holds (one transaction)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from shared.db.pool import Conn

# (conversation id, visitor hash, contact hash): what the GDPR function looks archives up by.
IndexEntry = tuple[UUID, bytes, bytes | None]

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
        "SELECT c.id, c.visitor_id, c.channel, c.contact_hash, c.started_at, c.last_message_at"
        " FROM conversations c JOIN bots b ON b.id = c.bot_id WHERE c.bot_id = %s"
        " AND (c.last_message_at AT TIME ZONE 'UTC')::date = %s"
        " AND c.last_message_at < %s - make_interval(days => b.retention_days)"
        " AND c.state NOT IN ('waiting', 'human')"  # a person is on it: not yet
        " ORDER BY c.id",
        (bot_id, day, now),
    )
    return await cur.fetchall()


async def messages_of(conn: Conn, *, conversation_ids: list[UUID]) -> list[dict[str, Any]]:
    """The conversations' messages, text still encrypted, in order."""
    cur = await conn.execute(
        "SELECT conversation_id, role, content_enc, source, faq_id, provider, model,"
        " latency_ms, tokens_in, tokens_out, feedback, feedback_comment_enc, sources, created_at,"
        " operator_name AS operator FROM messages"
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
    entries: list[IndexEntry],
    message_count: int,
) -> None:
    """Record the uploaded object, index what it holds, and delete those conversations,
    atomically."""
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO archives (tenant_id, bot_id, day, object_key, conversation_count,"
            " message_count) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (object_key) DO UPDATE SET object_key = excluded.object_key"
            " RETURNING id",
            (tenant_id, bot_id, day, object_key, len(entries), message_count),
        )
        row = await cur.fetchone()
        assert row is not None
        await index_archive(conn, archive_id=row["id"], tenant_id=tenant_id, entries=entries)
        await conn.execute(
            "DELETE FROM conversations WHERE id = ANY(%s)", ([e[0] for e in entries],)
        )


async def index_archive(
    conn: Conn, *, archive_id: UUID, tenant_id: UUID, entries: list[IndexEntry]
) -> None:
    """Record which conversations an archive object holds, and that it is indexed."""
    async with conn.transaction():
        if entries:
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO archive_conversations (archive_id, tenant_id, conversation_id,"
                    " visitor_hash, contact_hash) VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    [(archive_id, tenant_id, *entry) for entry in entries],
                )
        await conn.execute("UPDATE archives SET indexed = true WHERE id = %s", (archive_id,))
