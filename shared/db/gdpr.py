"""GDPR requests, and finding and removing a subject's rows (shared.gdpr does the rest).

A subject is found by ``visitor`` (bot id + visitor id), ``conversation`` (an id) or
``contact`` (the keyed hash stored beside the encrypted contact); always within a tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Conn

_REQUEST = (
    "id, tenant_id, bot_id, kind, subject_kind, subject_hash, subject_sealed, requested_by,"
    " verified, status, counts, error, created_at AS received_at, completed_at, deadline,"
    " export_key, export_expires_at"
)


async def create_request(
    conn: Conn,
    *,
    tenant_id: UUID | None,
    bot_id: UUID | None,
    kind: str,
    subject_kind: str,
    subject_hash: bytes,
    subject_sealed: bytes | None,
    requested_by: str,
    verified: bool = True,
) -> dict[str, Any]:
    cur = await conn.execute(
        "INSERT INTO gdpr_requests (tenant_id, bot_id, kind, subject_kind, subject_hash,"
        " subject_sealed, requested_by, verified, status)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'in_progress')"
        f" RETURNING {_REQUEST}",
        (
            tenant_id,
            bot_id,
            kind,
            subject_kind,
            subject_hash,
            subject_sealed,
            requested_by,
            verified,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def save_counts(conn: Conn, *, request_id: UUID, counts: dict[str, int]) -> None:
    await conn.execute(
        "UPDATE gdpr_requests SET counts = %s, updated_at = now() WHERE id = %s",
        (Jsonb(counts), request_id),
    )


async def complete_request(
    conn: Conn,
    *,
    request_id: UUID,
    counts: dict[str, int],
    export_key: str | None = None,
    export_expires_at: datetime | None = None,
) -> dict[str, Any]:
    """Done: the counts are final and the sealed subject is dropped."""
    cur = await conn.execute(
        "UPDATE gdpr_requests SET status = 'completed', counts = %s, subject_sealed = NULL,"
        " export_key = %s, export_expires_at = %s, completed_at = now(), updated_at = now()"
        f" WHERE id = %s RETURNING {_REQUEST}",
        (Jsonb(counts), export_key, export_expires_at, request_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def note_error(conn: Conn, *, request_id: UUID, error: str) -> None:
    """An attempt failed; the request stays in progress for the next run to finish."""
    await conn.execute(
        "UPDATE gdpr_requests SET error = %s, updated_at = now() WHERE id = %s",
        (error[:500], request_id),
    )


async def abandon_request(conn: Conn, *, request_id: UUID, error: str) -> None:
    """Give a request up (``failed``), dropping its sealed subject."""
    await conn.execute(
        "UPDATE gdpr_requests SET status = 'failed', error = %s, subject_sealed = NULL,"
        " updated_at = now() WHERE id = %s",
        (error[:500], request_id),
    )


async def get_request(conn: Conn, *, request_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(f"SELECT {_REQUEST} FROM gdpr_requests WHERE id = %s", (request_id,))
    return await cur.fetchone()


async def list_requests(
    conn: Conn, *, scope: UUID | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_REQUEST} FROM gdpr_requests"
        " WHERE (%(scope)s::uuid IS NULL OR tenant_id = %(scope)s)"
        " ORDER BY created_at DESC, id LIMIT %(limit)s OFFSET %(offset)s",
        {"scope": scope, "limit": limit, "offset": offset},
    )
    return await cur.fetchall()


async def unfinished_requests(conn: Conn, *, idle_seconds: float) -> list[dict[str, Any]]:
    """Requests a crash or an error left behind (untouched for ``idle_seconds``, so one
    still running elsewhere is left alone), oldest first; a deleted tenant's are moot."""
    cur = await conn.execute(
        f"SELECT {_REQUEST} FROM gdpr_requests WHERE status IN ('received', 'in_progress')"
        " AND subject_sealed IS NOT NULL AND (tenant_id IS NOT NULL OR kind = 'offboarding')"
        " AND updated_at <= now() - make_interval(secs => %s) ORDER BY created_at",
        (idle_seconds,),
    )
    return await cur.fetchall()


async def expired_exports(conn: Conn, *, now: datetime) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT id, export_key FROM gdpr_requests WHERE export_key IS NOT NULL"
        " AND export_expires_at < %s",
        (now,),
    )
    return await cur.fetchall()


async def forget_export(conn: Conn, *, request_id: UUID) -> None:
    await conn.execute(
        "UPDATE gdpr_requests SET export_key = NULL, updated_at = now() WHERE id = %s",
        (request_id,),
    )


# ----- the subject's conversations ---------------------------------------------------

_MATCH = """
   c.tenant_id = %(tenant)s
   AND CASE %(kind)s
       WHEN 'visitor' THEN c.bot_id = %(bot)s AND c.visitor_id = %(value)s
       WHEN 'conversation' THEN c.id = %(conversation)s
       WHEN 'contact' THEN c.contact_hash = %(hash)s
       ELSE false END
"""


def _match_params(
    *, tenant_id: UUID, kind: str, value: str, bot_id: UUID | None, subject_hash: bytes
) -> dict[str, Any]:
    conversation: UUID | None = None
    if kind == "conversation":
        conversation = UUID(value)
    return {
        "tenant": tenant_id,
        "kind": kind,
        "bot": bot_id,
        "value": value,
        "conversation": conversation,
        "hash": subject_hash,
    }


async def subject_conversations(
    conn: Conn, *, tenant_id: UUID, kind: str, value: str, bot_id: UUID | None, subject_hash: bytes
) -> list[dict[str, Any]]:
    """The subject's conversations in Postgres (contact and name still encrypted)."""
    cur = await conn.execute(
        "SELECT c.id, c.bot_id, c.visitor_id, c.channel, c.contact_enc, c.visitor_name_enc,"
        f" c.started_at, c.last_message_at FROM conversations c WHERE {_MATCH}"
        " ORDER BY c.started_at, c.id",
        _match_params(
            tenant_id=tenant_id, kind=kind, value=value, bot_id=bot_id, subject_hash=subject_hash
        ),
    )
    return await cur.fetchall()


async def messages_for_export(conn: Conn, *, conversation_ids: list[UUID]) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT id, conversation_id, role, content_enc, source, faq_id, sources, feedback,"
        " feedback_comment_enc, operator_name, created_at FROM messages"
        " WHERE conversation_id = ANY(%s)"
        " ORDER BY created_at, id",
        (conversation_ids,),
    )
    return await cur.fetchall()


async def delete_conversations(conn: Conn, *, conversation_ids: list[UUID]) -> tuple[int, int]:
    """Delete the conversations (their messages and feedback go with them): the counts."""
    cur = await conn.execute(
        "WITH gone AS (DELETE FROM conversations WHERE id = ANY(%s) RETURNING message_count)"
        " SELECT count(*) AS conversations, coalesce(sum(message_count), 0) AS messages"
        " FROM gone",
        (conversation_ids,),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["conversations"]), int(row["messages"])


async def set_contact(
    conn: Conn, *, conversation_id: UUID, contact_enc: bytes, contact_hash: bytes
) -> None:
    """Record the contact a visitor left, encrypted, with its keyed hash for look-ups."""
    await conn.execute(
        "UPDATE conversations SET contact_enc = %s, contact_hash = %s WHERE id = %s",
        (contact_enc, contact_hash, conversation_id),
    )


async def tenant_visitors(conn: Conn, *, tenant_id: UUID) -> list[dict[str, Any]]:
    """Every (bot, visitor) and conversation of a tenant (to match tombstones after a restore)."""
    cur = await conn.execute(
        "SELECT id, bot_id, visitor_id, contact_hash FROM conversations WHERE tenant_id = %s",
        (tenant_id,),
    )
    return await cur.fetchall()


# ----- archived conversations ----------------------------------------------------------


async def unindexed_archives(conn: Conn, *, tenant_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT id, bot_id, object_key FROM archives WHERE tenant_id = %s AND NOT indexed",
        (tenant_id,),
    )
    return await cur.fetchall()


# Archive index entries with the object that holds each conversation.
_ARCHIVED = (
    "SELECT a.id AS archive_id, a.object_key, a.bot_id, ac.conversation_id"
    " FROM archive_conversations ac JOIN archives a ON a.id = ac.archive_id"
)


async def archived_matches(
    conn: Conn, *, tenant_id: UUID, hashes: list[bytes]
) -> list[dict[str, Any]]:
    """Archive entries whose visitor or contact hash is one of ``hashes``."""
    cur = await conn.execute(
        f"{_ARCHIVED} WHERE ac.tenant_id = %(t)s AND (ac.visitor_hash = ANY(%(h)s)"
        " OR ac.contact_hash = ANY(%(h)s)) ORDER BY a.object_key",
        {"t": tenant_id, "h": hashes},
    )
    return await cur.fetchall()


async def archived_conversations(
    conn: Conn, *, tenant_id: UUID, conversation_ids: list[UUID]
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"{_ARCHIVED} WHERE ac.tenant_id = %s AND ac.conversation_id = ANY(%s)"
        " ORDER BY a.object_key",
        (tenant_id, conversation_ids),
    )
    return await cur.fetchall()


async def tenant_archived_ids(conn: Conn, *, tenant_id: UUID) -> list[UUID]:
    cur = await conn.execute(
        "SELECT conversation_id FROM archive_conversations WHERE tenant_id = %s", (tenant_id,)
    )
    return [row["conversation_id"] for row in await cur.fetchall()]


async def lock_archive(conn: Conn, *, archive_id: UUID) -> int | None:
    """Lock an archive's record for a rewrite (two erasures never rewrite one object at
    once); the messages it holds, or None when it is gone."""
    cur = await conn.execute(
        "SELECT message_count FROM archives WHERE id = %s FOR UPDATE", (archive_id,)
    )
    row = await cur.fetchone()
    return int(row["message_count"]) if row else None


async def archive_rewritten(
    conn: Conn,
    *,
    archive_id: UUID,
    removed: list[UUID],
    conversations_left: int,
    messages_left: int,
) -> None:
    """The object no longer holds ``removed``: drop their index rows (and the record when
    nothing is left in it)."""
    async with conn.transaction():
        await conn.execute(
            "DELETE FROM archive_conversations WHERE archive_id = %s AND conversation_id = ANY(%s)",
            (archive_id, removed),
        )
        if conversations_left == 0:
            await conn.execute("DELETE FROM archives WHERE id = %s", (archive_id,))
        else:
            await conn.execute(
                "UPDATE archives SET conversation_count = %s, message_count = %s WHERE id = %s",
                (conversations_left, messages_left, archive_id),
            )


# ----- tenant offboarding ---------------------------------------------------------------


async def tenant_inventory(conn: Conn, *, tenant_id: UUID) -> dict[str, Any] | None:
    """What a tenant owns, for deleting it everywhere (conversations and messages counted in
    Postgres and in archives); None when it is gone."""
    cur = await conn.execute(
        "SELECT t.slug,"
        " ARRAY(SELECT id FROM bots WHERE tenant_id = t.id) AS bot_ids,"
        " ARRAY(SELECT source_uri FROM documents WHERE tenant_id = t.id) AS document_uris,"
        " (SELECT count(*) FROM conversations WHERE tenant_id = t.id)"
        " + (SELECT coalesce(sum(conversation_count), 0) FROM archives WHERE tenant_id = t.id)"
        "   AS conversations,"
        " (SELECT coalesce(sum(message_count), 0) FROM conversations WHERE tenant_id = t.id)"
        " + (SELECT coalesce(sum(message_count), 0) FROM archives WHERE tenant_id = t.id)"
        "   AS messages,"
        " (SELECT count(*) FROM archives WHERE tenant_id = t.id) AS archive_objects"
        " FROM tenants t WHERE t.id = %s",
        (tenant_id,),
    )
    return await cur.fetchone()


async def conversation_tenant(conn: Conn, *, conversation_id: UUID) -> UUID | None:
    """The tenant a conversation belongs to, in Postgres or in an archive."""
    cur = await conn.execute(
        "SELECT tenant_id FROM conversations WHERE id = %(id)s UNION ALL"
        " SELECT tenant_id FROM archive_conversations WHERE conversation_id = %(id)s LIMIT 1",
        {"id": conversation_id},
    )
    row = await cur.fetchone()
    return row["tenant_id"] if row else None
