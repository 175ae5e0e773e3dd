"""Dashboard sessions: opaque tokens stored only as hashes, with an expiry."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from shared.db.pool import Conn


async def create_session(
    conn: Conn, *, user_id: UUID, token_hash: bytes, ttl_seconds: int
) -> datetime:
    cur = await conn.execute(
        "INSERT INTO sessions (token_hash, user_id, expires_at)"
        " VALUES (%s, %s, now() + make_interval(secs => %s)) RETURNING expires_at",
        (token_hash, user_id, ttl_seconds),
    )
    row = await cur.fetchone()
    assert row is not None
    expires: datetime = row["expires_at"]
    return expires


async def delete_session(conn: Conn, *, token_hash: bytes) -> None:
    await conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))


async def purge_expired(conn: Conn) -> int:
    cur = await conn.execute("DELETE FROM sessions WHERE expires_at < now()")
    return cur.rowcount
