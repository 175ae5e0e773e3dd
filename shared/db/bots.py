"""Bots: a tenant's chatbot, its settings and its knowledge-base version."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Conn
from shared.errors import ConflictError, NotFoundError
from shared.languages import text_search_config

COLUMNS = (
    "id, tenant_id, slug, name, allowed_origins, language, instructions, llm_chain, llm_model,"
    " faq_threshold, rate_limit_per_minute, daily_token_budget, retention_days, display,"
    " kb_version, created_at, updated_at, handoff_enabled, business_hours, handoff_webhook_url,"
    " handoff_webhook_secret_enc, handoff_email, chunks_indexed, faqs_indexed,"
    " withhold_personal_data, personal_data_patterns, currency, monthly_spend_cap,"
    " paraphrase_faqs, check_faq_matches, phrasings_per_faq"
)
# Settings a caller may change, besides name and slug.
SETTINGS = (
    "allowed_origins",
    "language",
    "instructions",
    "llm_chain",
    "llm_model",
    "faq_threshold",
    "rate_limit_per_minute",
    "daily_token_budget",
    "retention_days",
    "display",
    "handoff_enabled",
    "business_hours",
    "handoff_webhook_url",
    "handoff_webhook_secret_enc",  # encrypted by the caller; never returned by the API
    "handoff_email",
    "withhold_personal_data",
    "personal_data_patterns",
    "currency",
    "monthly_spend_cap",
    "paraphrase_faqs",
    "check_faq_matches",
)

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


def _params(values: dict[str, Any]) -> dict[str, Any]:
    params = dict(values)
    if "display" in params:
        params["display"] = Jsonb(params["display"] or {})
    if params.get("business_hours") is not None:
        params["business_hours"] = Jsonb(params["business_hours"])
    if "personal_data_patterns" in params:
        params["personal_data_patterns"] = Jsonb(params["personal_data_patterns"] or [])
    return params


async def ensure_bot(
    conn: Conn,
    *,
    tenant_id: UUID,
    slug: str,
    name: str,
    allowed_origins: list[str],
    language: str = "en",
    instructions: str = "",
    display: dict[str, Any] | None = None,
) -> tuple[UUID, bool]:
    """The bot with ``slug`` in the tenant, created if missing; returns (id, created)."""
    cur = await conn.execute(
        _ENSURE,
        _params(
            {
                "tenant_id": tenant_id,
                "slug": slug,
                "name": name,
                "allowed_origins": allowed_origins,
                "language": language,
                "text_search_config": text_search_config(language),
                "instructions": instructions,
                "display": display,
            }
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return row["id"], bool(row["created"])


async def create_bot(
    conn: Conn, *, tenant_id: UUID, slug: str, name: str, settings: dict[str, Any]
) -> dict[str, Any]:
    values = {k: v for k, v in settings.items() if k in SETTINGS}
    columns = ["tenant_id", "slug", "name", "text_search_config", *values]
    placeholders = [f"%({c})s" for c in columns]
    placeholders[3] = "%(text_search_config)s::regconfig"
    cur = await conn.execute(
        f"INSERT INTO bots ({', '.join(columns)}) VALUES ({', '.join(placeholders)})"
        f" ON CONFLICT (tenant_id, slug) DO NOTHING RETURNING {COLUMNS}",
        _params(
            {
                **values,
                "tenant_id": tenant_id,
                "slug": slug,
                "name": name,
                "text_search_config": text_search_config(values.get("language", "en")),
            }
        ),
    )
    row = await cur.fetchone()
    if row is None:
        raise ConflictError(f"The tenant already has a bot {slug!r}.", code="slug_taken")
    return row


async def list_bots(
    conn: Conn, *, scope: UUID | None, tenant_id: UUID | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM bots WHERE (%(scope)s::uuid IS NULL OR tenant_id = %(scope)s)"
        " AND (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s)"
        " ORDER BY created_at, id LIMIT %(limit)s OFFSET %(offset)s",
        {"scope": scope, "tenant": tenant_id, "limit": limit, "offset": offset},
    )
    return await cur.fetchall()


async def get_bot(conn: Conn, *, scope: UUID | None, bot_id: UUID) -> dict[str, Any]:
    """The bot, if the caller's scope includes its tenant; 404 otherwise."""
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM bots WHERE id = %(id)s"
        " AND (%(scope)s::uuid IS NULL OR tenant_id = %(scope)s)",
        {"id": bot_id, "scope": scope},
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("bot", bot_id)
    return row


async def update_bot(
    conn: Conn, *, scope: UUID | None, bot_id: UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    allowed = {k: v for k, v in changes.items() if k in (*SETTINGS, "name")}
    if not allowed:
        return await get_bot(conn, scope=scope, bot_id=bot_id)
    # A display update merges into the stored one: fields not sent are kept.
    sets = [
        "display = display || %(display)s" if column == "display" else f"{column} = %({column})s"
        for column in allowed
    ]
    if "language" in allowed:
        sets.append("text_search_config = %(text_search_config)s::regconfig")
        allowed["text_search_config"] = text_search_config(allowed["language"])
    cur = await conn.execute(
        f"UPDATE bots SET {', '.join(sets)}, updated_at = now() WHERE id = %(id)s"
        f" AND (%(scope)s::uuid IS NULL OR tenant_id = %(scope)s) RETURNING {COLUMNS}",
        _params({**allowed, "id": bot_id, "scope": scope}),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("bot", bot_id)
    if "language" in allowed:
        await _retokenize(conn, bot_id=bot_id)
    return row


async def _retokenize(conn: Conn, *, bot_id: UUID) -> None:
    """Recompute full-text vectors after the bot's language changed."""
    for table in ("faq_phrasings", "chunks"):
        await conn.execute(
            f"UPDATE {table} t SET tsv = to_tsvector(b.text_search_config, t.text)"
            " FROM bots b WHERE b.id = t.bot_id AND t.bot_id = %s",
            (bot_id,),
        )


async def delete_bot(conn: Conn, *, scope: UUID | None, bot_id: UUID) -> None:
    cur = await conn.execute(
        "DELETE FROM bots WHERE id = %(id)s AND (%(scope)s::uuid IS NULL OR tenant_id = %(scope)s)"
        " RETURNING id",
        {"id": bot_id, "scope": scope},
    )
    if await cur.fetchone() is None:
        raise NotFoundError("bot", bot_id)


# The average number of phrasings of the bot's enabled FAQs (NULL without any), which the
# FAQ threshold follows (shared.rag.faq_match.threshold_for).
_PHRASINGS_PER_FAQ = """
    (SELECT count(*)::real / nullif(count(DISTINCT p.faq_id), 0)
       FROM faq_phrasings p JOIN faqs f ON f.id = p.faq_id
      WHERE p.bot_id = bots.id AND f.enabled)"""


async def bump_kb_version(conn: Conn, *, tenant_id: UUID, bot_id: UUID) -> int:
    """Invalidate everything cached for the bot's knowledge base, and count its FAQs'
    phrasings again (call it in the transaction that changed them)."""
    cur = await conn.execute(
        "UPDATE bots SET kb_version = kb_version + 1, updated_at = now(),"
        f" phrasings_per_faq = {_PHRASINGS_PER_FAQ}"
        " WHERE tenant_id = %(t)s AND id = %(b)s RETURNING kb_version",
        {"t": tenant_id, "b": bot_id},
    )
    row = await cur.fetchone()
    return int(row["kb_version"]) if row else 0


async def bump_every_kb_version(conn: Conn) -> None:
    """Every bot's cached answers become unreachable (after a reindex)."""
    await conn.execute(
        f"UPDATE bots SET kb_version = kb_version + 1, phrasings_per_faq = {_PHRASINGS_PER_FAQ}"
    )


async def bot_by_slugs(conn: Conn, *, tenant_slug: str, bot_slug: str) -> dict[str, Any] | None:
    """``id``, ``tenant_id`` and ``language`` of the bot a storage key names, if it exists."""
    cur = await conn.execute(
        "SELECT b.id, b.tenant_id, b.language FROM bots b JOIN tenants t ON t.id = b.tenant_id"
        " WHERE t.slug = %s AND b.slug = %s",
        (tenant_slug, bot_slug),
    )
    return await cur.fetchone()


async def languages(conn: Conn) -> list[dict[str, Any]]:
    """Every bot's ``id`` and ``language`` (what its embedding model follows)."""
    cur = await conn.execute("SELECT id, language FROM bots ORDER BY id")
    return await cur.fetchall()


async def add_allowed_origins(conn: Conn, *, bot_id: UUID, origins: list[str]) -> None:
    """Allow these origins too (kept sorted, without duplicates)."""
    await conn.execute(
        "UPDATE bots SET allowed_origins = ARRAY(SELECT DISTINCT o FROM"
        " unnest(allowed_origins || %(o)s::text[]) AS o ORDER BY o)"
        " WHERE id = %(b)s AND NOT allowed_origins @> %(o)s::text[]",
        {"o": origins, "b": bot_id},
    )
