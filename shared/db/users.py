"""Dashboard users (admin, saas_user)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.db.pool import Conn

_UPSERT_ADMIN = """
INSERT INTO users (username, password_hash, role)
VALUES (%(username)s, %(password_hash)s, 'admin')
ON CONFLICT (lower(username)) DO UPDATE
   SET password_hash = EXCLUDED.password_hash, role = 'admin', tenant_id = NULL,
       disabled = false, updated_at = now()
RETURNING id
"""


async def upsert_admin(conn: Conn, *, username: str, password_hash: str) -> UUID:
    """Create the admin, or reset an existing user of that name to admin with this password."""
    cur = await conn.execute(_UPSERT_ADMIN, {"username": username, "password_hash": password_hash})
    row = await cur.fetchone()
    assert row is not None
    user_id: UUID = row["id"]
    return user_id


async def count_admins(conn: Conn) -> int:
    cur = await conn.execute("SELECT count(*) AS n FROM users WHERE role = 'admin'")
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def get_by_username(conn: Conn, *, username: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT id, username, password_hash, role, tenant_id, disabled FROM users"
        " WHERE lower(username) = lower(%(u)s)",
        {"u": username},
    )
    return await cur.fetchone()
