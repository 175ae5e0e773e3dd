"""Documents: one object in storage each, with its ingestion status."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.db.pool import Conn
from shared.errors import NotFoundError

COLUMNS = (
    "id, bot_id, source_uri, title, mime, kind, status, error, attempts, chunk_count,"
    " size_bytes, created_at, updated_at, indexed_at"
)

_REGISTER = """
INSERT INTO documents (tenant_id, bot_id, source_uri, title, mime, size_bytes, etag)
VALUES (%(tenant_id)s, %(bot_id)s, %(source_uri)s, %(title)s, %(mime)s, %(size)s, %(etag)s)
ON CONFLICT (source_uri) DO NOTHING
RETURNING id
"""


async def register_document(
    conn: Conn,
    *,
    tenant_id: UUID,
    bot_id: UUID,
    source_uri: str,
    title: str,
    mime: str,
    size: int,
    etag: str,
) -> UUID | None:
    """Record a document as pending ingestion; None when that source is already known."""
    cur = await conn.execute(
        _REGISTER,
        {
            "tenant_id": tenant_id,
            "bot_id": bot_id,
            "source_uri": source_uri,
            "title": title,
            "mime": mime,
            "size": size,
            "etag": etag,
        },
    )
    row = await cur.fetchone()
    return None if row is None else row["id"]


async def get_document(
    conn: Conn, *, tenant_id: UUID, bot_id: UUID, document_id: UUID
) -> dict[str, Any]:
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM documents WHERE id = %s AND bot_id = %s AND tenant_id = %s",
        (document_id, bot_id, tenant_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("document", document_id)
    return row


async def list_documents(
    conn: Conn, *, tenant_id: UUID, bot_id: UUID, limit: int, offset: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM documents WHERE bot_id = %s AND tenant_id = %s"
        " ORDER BY created_at, id LIMIT %s OFFSET %s",
        (bot_id, tenant_id, limit, offset),
    )
    return await cur.fetchall()


async def delete_document(conn: Conn, *, tenant_id: UUID, document_id: UUID) -> None:
    await conn.execute(
        "DELETE FROM documents WHERE id = %s AND tenant_id = %s", (document_id, tenant_id)
    )


async def known_under(conn: Conn, *, prefix: str) -> dict[str, tuple[str, str]]:
    """Every document stored under ``prefix``: source URI -> (ETag, status)."""
    cur = await conn.execute(
        "SELECT source_uri, etag, status FROM documents WHERE starts_with(source_uri, %s)",
        (prefix,),
    )
    return {r["source_uri"]: (r["etag"], r["status"]) for r in await cur.fetchall()}


# ----- ingestion (shared.ingest.pipeline): one source URI at a time, under its lock -----


async def lock_source(conn: Conn, *, source_uri: str) -> None:
    """Serialise work on one source for the rest of the transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (source_uri,))


async def by_source(conn: Conn, *, source_uri: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT id, tenant_id, bot_id, etag, status FROM documents WHERE source_uri = %s",
        (source_uri,),
    )
    return await cur.fetchone()


async def remove(conn: Conn, *, document_id: UUID) -> None:
    """The document and (by cascade) its chunks and FAQs."""
    await conn.execute("DELETE FROM documents WHERE id = %s", (document_id,))


_UPSERT = """
INSERT INTO documents AS d (tenant_id, bot_id, source_uri, etag, title, mime, size_bytes,
                            status, attempts)
VALUES (%(tenant)s, %(bot)s, %(uri)s, %(etag)s, %(title)s, %(mime)s, %(size)s, %(status)s, 1)
ON CONFLICT (source_uri) DO UPDATE SET tenant_id = EXCLUDED.tenant_id,
    bot_id = EXCLUDED.bot_id, etag = EXCLUDED.etag, mime = EXCLUDED.mime,
    size_bytes = EXCLUDED.size_bytes, status = EXCLUDED.status,
    -- new content starts counting afresh
    attempts = CASE WHEN d.etag IS DISTINCT FROM EXCLUDED.etag THEN 1 ELSE d.attempts + 1 END,
    updated_at = now()
RETURNING id, attempts
"""


async def begin_ingest(
    conn: Conn,
    *,
    tenant_id: UUID | None,
    bot_id: UUID | None,
    source_uri: str,
    etag: str,
    title: str,
    mime: str | None,
    size: int,
    status: str,
) -> UUID:
    """The document for this source, created or updated for another attempt."""
    cur = await conn.execute(
        _UPSERT,
        {
            "tenant": tenant_id,
            "bot": bot_id,
            "uri": source_uri,
            "etag": etag,
            "title": title,
            "mime": mime,
            "size": size,
            "status": status,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    document_id: UUID = row["id"]
    return document_id


async def mark_ready(
    conn: Conn, *, document_id: UUID, etag: str, title: str, kind: str, chunk_count: int
) -> None:
    await conn.execute(
        "UPDATE documents SET status = 'ready', error = NULL, etag = %s, title = %s,"
        " kind = %s, chunk_count = %s, indexed_at = now(), updated_at = now() WHERE id = %s",
        (etag, title, kind, chunk_count, document_id),
    )


async def mark_failed(conn: Conn, *, document_id: UUID, reason: str) -> None:
    """Failed, with its reason, and nothing of it left in the index."""
    await conn.execute(
        "UPDATE documents SET status = 'failed', error = %s, updated_at = now() WHERE id = %s",
        (reason, document_id),
    )
    await conn.execute("DELETE FROM chunks WHERE document_id = %s", (document_id,))


async def record_failure(
    conn: Conn,
    *,
    tenant_id: UUID | None,
    bot_id: UUID | None,
    source_uri: str,
    title: str,
    reason: str,
) -> UUID | None:
    """A failure whose work was rolled back (storage kept failing), kept visible."""
    cur = await conn.execute(
        "INSERT INTO documents AS d (tenant_id, bot_id, source_uri, title, status, error,"
        " attempts) VALUES (%s, %s, %s, %s, 'failed', %s, 1) ON CONFLICT (source_uri) DO"
        " UPDATE SET status = 'failed', error = EXCLUDED.error, attempts = d.attempts + 1,"
        " updated_at = now() RETURNING id",
        (tenant_id, bot_id, source_uri, title, reason),
    )
    row = await cur.fetchone()
    return row["id"] if row else None
