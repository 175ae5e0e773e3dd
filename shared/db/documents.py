"""Documents: one object in storage each, with its ingestion status."""

from __future__ import annotations

from uuid import UUID

from shared.db.pool import Conn

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
