"""FAQs and their phrasings (the question and each alternative, indexed one by one)."""

from __future__ import annotations

from uuid import UUID

from shared.db.pool import Conn

_INSERT_FAQ = """
INSERT INTO faqs (tenant_id, bot_id, question, alternatives, answer, external_id)
SELECT %(tenant_id)s, b.id, %(question)s, %(alternatives)s, %(answer)s, %(external_id)s
  FROM bots b WHERE b.id = %(bot_id)s AND b.tenant_id = %(tenant_id)s
ON CONFLICT (bot_id, external_id) DO NOTHING
RETURNING id
"""

_INSERT_PHRASINGS = """
INSERT INTO faq_phrasings (faq_id, bot_id, ord, text, tsv)
SELECT %(faq_id)s, b.id, p.ord - 1, p.text, to_tsvector(b.text_search_config, p.text)
  FROM bots b, unnest(%(texts)s::text[]) WITH ORDINALITY AS p(text, ord)
 WHERE b.id = %(bot_id)s
"""


async def create_faq(
    conn: Conn,
    *,
    tenant_id: UUID,
    bot_id: UUID,
    question: str,
    answer: str,
    alternatives: list[str] | None = None,
    external_id: str | None = None,
) -> UUID | None:
    """Insert a FAQ and its phrasings. Returns None when ``external_id`` already exists.

    Call inside a transaction together with :func:`shared.db.bots.bump_kb_version`.
    """
    alternatives = alternatives or []
    cur = await conn.execute(
        _INSERT_FAQ,
        {
            "tenant_id": tenant_id,
            "bot_id": bot_id,
            "question": question,
            "alternatives": alternatives,
            "answer": answer,
            "external_id": external_id,
        },
    )
    row = await cur.fetchone()
    if row is None:
        return None
    faq_id: UUID = row["id"]
    await conn.execute(
        _INSERT_PHRASINGS, {"faq_id": faq_id, "bot_id": bot_id, "texts": [question, *alternatives]}
    )
    return faq_id


async def count_faqs(conn: Conn, *, tenant_id: UUID, bot_id: UUID) -> int:
    cur = await conn.execute(
        "SELECT count(*) AS n FROM faqs WHERE tenant_id = %(t)s AND bot_id = %(b)s",
        {"t": tenant_id, "b": bot_id},
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0
