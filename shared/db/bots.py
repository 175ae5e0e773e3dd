"""Bots: a tenant's chatbot, its settings and its knowledge-base version."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Conn

_ENSURE = """
WITH ins AS (
    INSERT INTO bots (tenant_id, slug, name, allowed_origins, language, text_search_config,
                      instructions, display)
    VALUES (%(tenant_id)s, %(slug)s, %(name)s, %(allowed_origins)s, %(language)s,
            %(text_search_config)s::regconfig, %(instructions)s, %(display)s)
    ON CONFLICT (tenant_id, slug) DO NOTHING
    RETURNING id, true AS created
)
SELECT id, created FROM ins
UNION ALL
SELECT id, false FROM bots WHERE tenant_id = %(tenant_id)s AND slug = %(slug)s
LIMIT 1
"""


async def ensure_bot(
    conn: Conn,
    *,
    tenant_id: UUID,
    slug: str,
    name: str,
    allowed_origins: list[str],
    language: str = "en",
    text_search_config: str = "english",
    instructions: str = "",
    display: dict[str, Any] | None = None,
) -> tuple[UUID, bool]:
    """The bot with ``slug`` in the tenant, created if missing; returns (id, created)."""
    cur = await conn.execute(
        _ENSURE,
        {
            "tenant_id": tenant_id,
            "slug": slug,
            "name": name,
            "allowed_origins": allowed_origins,
            "language": language,
            "text_search_config": text_search_config,
            "instructions": instructions,
            "display": Jsonb(display or {}),
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return row["id"], bool(row["created"])


async def bump_kb_version(conn: Conn, *, tenant_id: UUID, bot_id: UUID) -> int:
    """Invalidate everything cached for the bot's knowledge base."""
    cur = await conn.execute(
        "UPDATE bots SET kb_version = kb_version + 1, updated_at = now()"
        " WHERE tenant_id = %(t)s AND id = %(b)s RETURNING kb_version",
        {"t": tenant_id, "b": bot_id},
    )
    row = await cur.fetchone()
    return int(row["kb_version"]) if row else 0
