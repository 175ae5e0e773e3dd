"""API keys: stored as prefix + SHA-256 hash, revocable, with last-used time and expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from shared.db.pool import Conn
from shared.errors import NotFoundError

_PUBLIC = (
    "id, tenant_id, bot_id, kind, role, name, prefix, created_at, last_used_at, expires_at,"
    " revoked_at"
)


async def create_key(
    conn: Conn,
    *,
    tenant_id: UUID,
    bot_id: UUID | None,
    kind: str,
    role: str,
    name: str,
    prefix: str,
    key_hash: bytes,
    expires_at: datetime | None,
) -> dict[str, Any]:
    cur = await conn.execute(
        f"INSERT INTO api_keys (tenant_id, bot_id, kind, role, name, prefix, key_hash, expires_at)"
        f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_PUBLIC}",
        (tenant_id, bot_id, kind, role, name, prefix, key_hash, expires_at),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def list_keys(
    conn: Conn, *, scope: UUID | None, tenant_id: UUID | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_PUBLIC} FROM api_keys WHERE (%(scope)s::uuid IS NULL OR tenant_id = %(scope)s)"
        " AND (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s)"
        " ORDER BY created_at DESC, id LIMIT %(limit)s OFFSET %(offset)s",
        {"scope": scope, "tenant": tenant_id, "limit": limit, "offset": offset},
    )
    return await cur.fetchall()


async def revoke_key(conn: Conn, *, scope: UUID | None, key_id: UUID) -> None:
    cur = await conn.execute(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = %(id)s"
        " AND (%(scope)s::uuid IS NULL OR tenant_id = %(scope)s) RETURNING id",
        {"id": key_id, "scope": scope},
    )
    if await cur.fetchone() is None:
        raise NotFoundError("API key", key_id)


async def ensure_key(
    conn: Conn, *, tenant_id: UUID, bot_id: UUID, name: str, prefix: str, key_hash: bytes
) -> None:
    """A publishable key with this prefix, created if missing (the demo page's)."""
    await conn.execute(
        "INSERT INTO api_keys (tenant_id, bot_id, kind, role, name, prefix, key_hash)"
        " VALUES (%s, %s, 'publishable', 'guest', %s, %s, %s) ON CONFLICT (prefix) DO NOTHING",
        (tenant_id, bot_id, name, prefix, key_hash),
    )
