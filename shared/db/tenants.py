"""Tenants: one shop (or business) each; everything else hangs off a tenant."""

from __future__ import annotations

from uuid import UUID

from shared.db.pool import Conn

_ENSURE = """
WITH ins AS (
    INSERT INTO tenants (slug, name) VALUES (%(slug)s, %(name)s)
    ON CONFLICT (slug) DO NOTHING
    RETURNING id
)
SELECT id FROM ins UNION ALL SELECT id FROM tenants WHERE slug = %(slug)s
LIMIT 1
"""


async def ensure_tenant(conn: Conn, *, slug: str, name: str) -> UUID:
    """The tenant with ``slug``, created if missing (an existing one is left as it is)."""
    cur = await conn.execute(_ENSURE, {"slug": slug, "name": name})
    row = await cur.fetchone()
    assert row is not None
    tenant_id: UUID = row["id"]
    return tenant_id
