"""Dashboard users (admin, saas_user)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.db.pool import Conn
from shared.errors import ConflictError, NotFoundError

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


_PUBLIC = "id, username, role, tenant_id, disabled, created_at, last_login_at"


async def create_user(
    conn: Conn, *, username: str, password_hash: str, role: str, tenant_id: UUID | None
) -> dict[str, Any]:
    cur = await conn.execute(
        f"INSERT INTO users (username, password_hash, role, tenant_id) VALUES (%s, %s, %s, %s)"
        f" ON CONFLICT (lower(username)) DO NOTHING RETURNING {_PUBLIC}",
        (username, password_hash, role, tenant_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise ConflictError("That username is taken.", code="username_taken")
    return row


async def list_users(
    conn: Conn, *, scope: UUID | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_PUBLIC} FROM users WHERE (%(scope)s::uuid IS NULL OR tenant_id = %(scope)s)"
        " ORDER BY created_at, id LIMIT %(limit)s OFFSET %(offset)s",
        {"scope": scope, "limit": limit, "offset": offset},
    )
    return await cur.fetchall()


async def record_login(conn: Conn, *, user_id: UUID) -> None:
    await conn.execute("UPDATE users SET last_login_at = now() WHERE id = %s", (user_id,))


async def update_user(
    conn: Conn,
    *,
    scope: UUID | None,
    user_id: UUID,
    password_hash: str | None,
    disabled: bool | None,
) -> dict[str, Any]:
    """Set a new password and/or (de)activate; their sessions end either way. A user of
    another tenant (or, for a tenant's caller, an admin) is a 404."""
    cur = await conn.execute(
        "UPDATE users SET password_hash = coalesce(%(hash)s, password_hash),"
        " disabled = coalesce(%(disabled)s, disabled), updated_at = now()"
        " WHERE id = %(id)s AND (%(scope)s::uuid IS NULL OR tenant_id = %(scope)s)"
        f" RETURNING {_PUBLIC}",
        {"hash": password_hash, "disabled": disabled, "id": user_id, "scope": scope},
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("user", user_id)
    await conn.execute("DELETE FROM sessions WHERE user_id = %s", (user_id,))
    return row
