"""Tenants: one shop (or business) each; everything else hangs off a tenant.

``scope`` arguments are a tenant id, or None for an admin who sees every tenant.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from shared.db.pool import Conn
from shared.errors import ConflictError, NotFoundError

_COLUMNS = "id, slug, name, created_at, updated_at"

_ENSURE = """
WITH ins AS (
    INSERT INTO tenants (slug, name) VALUES (%(slug)s, %(name)s)
    ON CONFLICT (slug) DO NOTHING
    RETURNING id
)
SELECT id FROM ins UNION ALL SELECT id FROM tenants WHERE slug = %(slug)s
LIMIT 1
"""


def _slug_taken(slug: str | None) -> ConflictError:
    return ConflictError(f"A tenant with slug {slug!r} already exists.", code="slug_taken")


async def ensure_tenant(conn: Conn, *, slug: str, name: str) -> UUID:
    """The tenant with ``slug``, created if missing (an existing one is left as it is)."""
    cur = await conn.execute(_ENSURE, {"slug": slug, "name": name})
    row = await cur.fetchone()
    assert row is not None
    tenant_id: UUID = row["id"]
    return tenant_id


async def create_tenant(conn: Conn, *, slug: str, name: str) -> dict[str, Any]:
    cur = await conn.execute(
        f"INSERT INTO tenants (slug, name) VALUES (%(slug)s, %(name)s)"
        f" ON CONFLICT (slug) DO NOTHING RETURNING {_COLUMNS}",
        {"slug": slug, "name": name},
    )
    row = await cur.fetchone()
    if row is None:
        raise _slug_taken(slug)
    return row


async def list_tenants(
    conn: Conn, *, scope: UUID | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM tenants WHERE (%(scope)s::uuid IS NULL OR id = %(scope)s)"
        " ORDER BY created_at, id LIMIT %(limit)s OFFSET %(offset)s",
        {"scope": scope, "limit": limit, "offset": offset},
    )
    return await cur.fetchall()


async def get_tenant(conn: Conn, *, scope: UUID | None, tenant_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM tenants WHERE id = %(id)s"
        " AND (%(scope)s::uuid IS NULL OR id = %(scope)s)",
        {"id": tenant_id, "scope": scope},
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("tenant", tenant_id)
    return row


async def update_tenant(
    conn: Conn, *, scope: UUID | None, tenant_id: UUID, name: str | None, slug: str | None
) -> dict[str, Any]:
    """Change what is given (None keeps it); a slug another tenant has is a 409."""
    try:
        cur = await conn.execute(
            "UPDATE tenants SET name = coalesce(%(name)s, name), slug = coalesce(%(slug)s, slug),"
            " updated_at = now() WHERE id = %(id)s"
            f" AND (%(scope)s::uuid IS NULL OR id = %(scope)s) RETURNING {_COLUMNS}",
            {"id": tenant_id, "scope": scope, "name": name, "slug": slug},
        )
    except psycopg.errors.UniqueViolation:
        raise _slug_taken(slug) from None
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("tenant", tenant_id)
    return row


async def delete_tenant(conn: Conn, *, tenant_id: UUID) -> None:
    cur = await conn.execute("DELETE FROM tenants WHERE id = %s RETURNING id", (tenant_id,))
    if await cur.fetchone() is None:
        raise NotFoundError("tenant", tenant_id)


async def key_row(conn: Conn, *, tenant_id: UUID) -> dict[str, Any]:
    """The tenant's wrapped data key, the master key that wrapped it, its KEK's id."""
    cur = await conn.execute(
        "SELECT data_key_wrapped, master_key_id, kek_id FROM tenants WHERE id = %s",
        (tenant_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("tenant", tenant_id)
    return row


async def store_key(
    conn: Conn, *, tenant_id: UUID, wrapped: bytes, master_key_id: str, kek_id: str
) -> bool:
    """Store a data key wrapped under a KEK, unless the tenant already has one (made by
    another process meanwhile: False, and the caller reads that one)."""
    cur = await conn.execute(
        "UPDATE tenants SET data_key_wrapped = %s, master_key_id = %s, kek_id = %s"
        " WHERE id = %s AND kek_id IS NULL RETURNING id",
        (wrapped, master_key_id, kek_id, tenant_id),
    )
    return await cur.fetchone() is not None


async def tenant_id_by_slug(conn: Conn, *, slug: str) -> UUID | None:
    cur = await conn.execute("SELECT id FROM tenants WHERE slug = %s", (slug,))
    row = await cur.fetchone()
    return row["id"] if row else None


async def tenant_slug(conn: Conn, *, tenant_id: UUID) -> str:
    cur = await conn.execute("SELECT slug FROM tenants WHERE id = %s", (tenant_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("tenant", tenant_id)
    slug: str = row["slug"]
    return slug


async def keys_wrapped_by_other(conn: Conn, *, key_id: str) -> list[dict[str, Any]]:
    """Tenants whose data key another master key wrapped, locked for rewrapping."""
    cur = await conn.execute(
        "SELECT id, data_key_wrapped, master_key_id FROM tenants"
        " WHERE data_key_wrapped IS NOT NULL AND master_key_id <> %s FOR UPDATE",
        (key_id,),
    )
    return await cur.fetchall()


async def set_wrapped_key(conn: Conn, *, tenant_id: UUID, wrapped: bytes, key_id: str) -> None:
    await conn.execute(
        "UPDATE tenants SET data_key_wrapped = %s, master_key_id = %s WHERE id = %s",
        (wrapped, key_id, tenant_id),
    )
