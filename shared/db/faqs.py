"""FAQs and their phrasings (the question and each alternative, indexed one by one)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
from psycopg import sql

from shared.db.pool import Conn
from shared.db.text_search import QUESTION_QUERY, per_bot
from shared.errors import NotFoundError
from shared.faq_import import FaqEntry
from shared.text import normalize_question

_INSERT_FAQ = """
INSERT INTO faqs (tenant_id, bot_id, question, alternatives, generated_alternatives, answer,
                  external_id, source_document_id)
SELECT %(tenant_id)s, b.id, %(question)s, %(alternatives)s, %(generated)s, %(answer)s,
       %(external_id)s, %(document_id)s
  FROM bots b WHERE b.id = %(bot_id)s AND b.tenant_id = %(tenant_id)s
ON CONFLICT (bot_id, external_id) DO NOTHING
RETURNING id
"""

_INSERT_PHRASINGS = """
INSERT INTO faq_phrasings (faq_id, bot_id, ord, text, tsv)
SELECT %(faq_id)s, b.id, %(first)s + p.ord - 1, p.text, to_tsvector(b.text_search_config, p.text)
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
    document_id: UUID | None = None,
    generated: list[str] | None = None,
) -> UUID | None:
    """Insert a FAQ and its phrasings. Returns None when ``external_id`` already exists.
    ``generated``: paraphrases the bot's LLM wrote for this question already (None: not yet).

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
            "generated": generated,
            "answer": answer,
            "external_id": external_id,
            "document_id": document_id,
        },
    )
    row = await cur.fetchone()
    if row is None:
        return None
    faq_id: UUID = row["id"]
    texts = [question, *alternatives, *(generated or [])]
    await conn.execute(
        _INSERT_PHRASINGS, {"faq_id": faq_id, "bot_id": bot_id, "texts": texts, "first": 0}
    )
    return faq_id


async def create_faqs(
    conn: Conn,
    *,
    tenant_id: UUID,
    bot_id: UUID,
    entries: Sequence[FaqEntry],
    document_id: UUID | None = None,
    generated: Mapping[str, list[str]] | None = None,
) -> None:
    """Insert validated FAQ entries (an import or a FAQ file), in the caller's transaction.
    ``generated``: paraphrases already written, by normalised question (a FAQ file ingested
    again keeps those of the questions it still has, as the owner left them)."""
    for entry in entries:
        kept = (generated or {}).get(normalize_question(entry.question))
        if kept is not None:  # none the same as one of the owner's phrasings now
            have = {normalize_question(t) for t in [entry.question, *entry.alternatives]}
            kept = [t for t in kept if normalize_question(t) not in have]
        await create_faq(
            conn,
            tenant_id=tenant_id,
            bot_id=bot_id,
            question=entry.question,
            alternatives=entry.alternatives,
            answer=entry.answer,
            document_id=document_id,
            generated=kept,
        )


async def count_faqs(conn: Conn, *, tenant_id: UUID, bot_id: UUID) -> int:
    cur = await conn.execute(
        "SELECT count(*) AS n FROM faqs WHERE tenant_id = %(t)s AND bot_id = %(b)s",
        {"t": tenant_id, "b": bot_id},
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


COLUMNS = (
    "id, bot_id, question, alternatives, generated_alternatives, answer, enabled, hits,"
    " external_id, created_at, updated_at"
)
EDITABLE = ("question", "alternatives", "generated_alternatives", "answer", "enabled")


def phrasings(faq: dict[str, Any]) -> list[str]:
    """What a FAQ is matched by: its question, the owner's alternatives, the generated ones."""
    return [faq["question"], *faq["alternatives"], *(faq["generated_alternatives"] or [])]


async def list_faqs(
    conn: Conn, *, tenant_id: UUID, bot_id: UUID, query: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    """The bot's FAQs, newest last; ``query`` filters on question, phrasings and answer."""
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM faqs f WHERE tenant_id = %(t)s AND bot_id = %(b)s"
        " AND (%(q)s::text IS NULL OR f.question ILIKE %(like)s OR f.answer ILIKE %(like)s"
        "      OR EXISTS (SELECT 1 FROM unnest(f.alternatives || f.generated_alternatives) a"
        "                  WHERE a ILIKE %(like)s))"
        " ORDER BY created_at, id LIMIT %(limit)s OFFSET %(offset)s",
        {
            "t": tenant_id,
            "b": bot_id,
            "q": query,
            "like": f"%{_escape_like(query)}%" if query else None,
            "limit": limit,
            "offset": offset,
        },
    )
    return await cur.fetchall()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def get_faq(conn: Conn, *, tenant_id: UUID, bot_id: UUID, faq_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM faqs WHERE id = %s AND tenant_id = %s AND bot_id = %s",
        (faq_id, tenant_id, bot_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("FAQ", faq_id)
    return row


async def update_faq(
    conn: Conn, *, tenant_id: UUID, bot_id: UUID, faq_id: UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a FAQ; its phrasings are rebuilt when what it is matched by changes. A new
    question drops the paraphrases of the old one (unless new ones are given): the
    paraphrase job writes them again.

    Call inside a transaction together with :func:`shared.db.bots.bump_kb_version`.
    """
    allowed = {k: v for k, v in changes.items() if k in EDITABLE}
    current = await get_faq(conn, tenant_id=tenant_id, bot_id=bot_id, faq_id=faq_id)
    if not allowed:
        return current
    if allowed.get("question", current["question"]) != current["question"]:
        allowed.setdefault("generated_alternatives", None)
    sets = ", ".join(f"{column} = %({column})s" for column in allowed)
    cur = await conn.execute(
        f"UPDATE faqs SET {sets}, updated_at = now() WHERE id = %(id)s RETURNING {COLUMNS}",
        {**allowed, "id": faq_id},
    )
    row = await cur.fetchone()
    assert row is not None
    if allowed.keys() & {"question", "alternatives", "generated_alternatives"}:
        await _rebuild_phrasings(conn, row)
    return row


async def _rebuild_phrasings(conn: Conn, faq: dict[str, Any]) -> None:
    """Bring the FAQ's phrasing rows in line with its phrasings: the rows of texts it keeps
    stay as they are, with their embeddings; the others go; new texts come in without one
    (``shared.rag.index.embed_pending`` embeds them). Deleting and inserting every row, as
    this did, embedded the whole FAQ again at every edit and left two dead rows a phrasing
    behind, which the FAQ match of a bot whose owner keeps adding phrasings scanned."""
    cur = await conn.execute(
        "SELECT id, text, ord FROM faq_phrasings WHERE faq_id = %s ORDER BY ord", (faq["id"],)
    )
    rows = await cur.fetchall()
    texts = phrasings(faq)
    wanted = Counter(texts)
    gone = []
    for row in rows:
        if wanted[row["text"]] > 0:
            wanted[row["text"]] -= 1
        else:
            gone.append(row["id"])
    new = []
    for text in texts:  # in the FAQ's order; a text kept n times is not added again
        if wanted[text] > 0:
            wanted[text] -= 1
            new.append(text)
    if gone:
        await conn.execute("DELETE FROM faq_phrasings WHERE id = ANY(%s)", (gone,))
    if new:
        first = max((row["ord"] for row in rows), default=-1) + 1  # (faq_id, ord) is unique
        await conn.execute(
            _INSERT_PHRASINGS,
            {"faq_id": faq["id"], "bot_id": faq["bot_id"], "texts": new, "first": first},
        )


_UNPARAPHRASED = """
SELECT f.id, f.tenant_id, f.bot_id, f.question, f.alternatives, f.answer,
       (SELECT g.generated_alternatives FROM faqs g
         WHERE g.tenant_id = f.tenant_id AND g.id <> f.id AND g.generated_alternatives IS NOT NULL
           AND lower(g.question) = lower(f.question)
         LIMIT 1) AS known
  FROM faqs f JOIN bots b ON b.id = f.bot_id
 WHERE f.generated_alternatives IS NULL AND f.enabled AND b.paraphrase_faqs
   AND cardinality(f.alternatives) < %(most)s
   AND (b.llm_chain && %(remote)s::text[] OR (b.llm_chain IS NULL AND %(default_remote)s))
 ORDER BY f.created_at, f.id
 LIMIT %(limit)s
"""


async def unparaphrased(
    conn: Conn, *, remote: Sequence[str], default_remote: bool, most: int, limit: int
) -> list[dict[str, Any]]:
    """Enabled FAQs not paraphrased yet, oldest first, of bots that want them
    (``paraphrase_faqs``) and whose chain has one of the
    ``remote`` providers (``default_remote``: the deployment's default chain has one) and
    fewer than ``most`` alternatives of the owner's; ``known``: the paraphrases another FAQ
    of the tenant with the same question has already (reused, not bought twice)."""
    cur = await conn.execute(
        _UNPARAPHRASED,
        {"remote": list(remote), "default_remote": default_remote, "most": most, "limit": limit},
    )
    return await cur.fetchall()


async def store_paraphrases(
    conn: Conn, *, faq_id: UUID, question: str, texts: Sequence[str]
) -> dict[str, Any] | None:
    """Keep ``texts`` as the FAQ's generated alternatives and rebuild its phrasings; None (and
    nothing changed) when the FAQ is gone, its question changed meanwhile, or it has them."""
    cur = await conn.execute(
        f"UPDATE faqs SET generated_alternatives = %(texts)s, updated_at = now()"
        f" WHERE id = %(id)s AND question = %(question)s AND generated_alternatives IS NULL"
        f" RETURNING {COLUMNS}",
        {"texts": list(texts), "id": faq_id, "question": question},
    )
    row = await cur.fetchone()
    if row is not None:
        await _rebuild_phrasings(conn, row)
    return row


async def delete_faq(conn: Conn, *, tenant_id: UUID, bot_id: UUID, faq_id: UUID) -> None:
    cur = await conn.execute(
        "DELETE FROM faqs WHERE id = %s AND tenant_id = %s AND bot_id = %s RETURNING id",
        (faq_id, tenant_id, bot_id),
    )
    if await cur.fetchone() is None:
        raise NotFoundError("FAQ", faq_id)


# Each FAQ scored from all its phrasings (see shared.rag.faq_match for how and why), over
# the candidates: the enabled FAQs owning the bot's FAQ_CANDIDATES phrasings nearest to the
# question or its FAQ_CANDIDATES best full-text matches (every FAQ of a bot with up to that
# many phrasings); a FAQ outside both lists would score below the best anyway. The lists
# come from an exact scan of the bot's phrasings, or for a bot with indexes of its own
# (shared.db.bot_indexes) from its HNSW and GIN indexes, which apply only when the query
# names the bot as a constant. The statement ranks the candidates and returns the best
# ``limit``; only those are looked up in ``faqs`` for their text (joining every candidate
# made PostgreSQL scan the whole faqs table, every bot's, for each question). Each phrasing
# the question's words hit is ranked once (``hits``), for choosing candidates and for scoring:
# ranking them again while scoring made the statement 0.79 against 0.68 ms on BANKING77's
# 231 phrasings (300 questions, the same rows and scores).
FAQ_CANDIDATES = 50  # parley bench scale / bench faq: 100 found the same best FAQ, slower
_MATCH = f"""
WITH {QUESTION_QUERY},
hits AS MATERIALIZED (
    SELECT p.id, p.faq_id, ts_rank_cd(p.tsv, q.query) AS lex
      FROM faq_phrasings p, q
     WHERE p.bot_id = {{bot}} AND p.tsv @@ q.query AND p.embedding IS NOT NULL
),
candidates AS (
    (SELECT p.faq_id
       FROM faq_phrasings p
      WHERE p.bot_id = {{bot}} AND p.embedding IS NOT NULL
      ORDER BY {{distance}}
      LIMIT {FAQ_CANDIDATES})
    UNION
    (SELECT h.faq_id FROM hits h ORDER BY h.lex DESC, h.id LIMIT {FAQ_CANDIDATES})
),
scored AS MATERIALIZED (
    SELECT p.faq_id,
           1 - (p.embedding <=> %(vec)s) AS cos,
           coalesce(h.lex, 0) AS lex
      FROM candidates c JOIN faq_phrasings p ON p.faq_id = c.faq_id
      LEFT JOIN hits h ON h.id = p.id
     WHERE p.embedding IS NOT NULL
       AND (SELECT f.enabled FROM faqs f WHERE f.id = c.faq_id)
),
per_faq AS (
    SELECT faq_id, 0.5 * max(cos) + 0.5 * avg(cos) AS semantic, max(lex) AS lexical
      FROM scored GROUP BY faq_id
),
ranked AS (
    SELECT faq_id, semantic, lexical,
           semantic + %(lexical_weight)s
               * lexical / coalesce(nullif(max(lexical) OVER (), 0), 1) AS score
      FROM per_faq
     ORDER BY score DESC, faq_id
)
SELECT f.id, f.question, f.answer, r.semantic, r.lexical, r.score,
       EXISTS (SELECT 1 FROM chunks c WHERE c.bot_id = {{bot}}) AS has_documents
  FROM (SELECT * FROM ranked LIMIT %(limit)s) r JOIN faqs f ON f.id = r.faq_id
 ORDER BY r.score DESC, r.faq_id
"""


def match_query(bot_id: UUID, dim: int, *, indexed: bool) -> sql.Composed:
    """The FAQ match statement: by exact scan, or through the bot's own indexes."""
    return per_bot(_MATCH, "p", bot_id, dim, indexed=indexed)


async def match_rows(
    conn: Conn,
    *,
    bot_id: UUID,
    text: str,
    vector: npt.NDArray[np.float32],
    lexical_weight: float,
    limit: int,
    indexed: bool = False,
) -> list[dict[str, Any]]:
    """The bot's best ``limit`` enabled FAQs, best first, each with its ``semantic`` and
    ``lexical`` score and the ``score`` they make: ``semantic + lexical_weight * lexical /
    (the best lexical among the candidates)``, and ``has_documents``: whether the bot has
    any. ``indexed``: through the bot's own indexes (``bots.faqs_indexed``)."""
    query = match_query(bot_id, len(vector), indexed=indexed)
    params = {
        "bot": bot_id,
        "text": text,
        "vec": vector,
        "lexical_weight": lexical_weight,
        "limit": limit,
    }
    cur = await conn.execute(query, params)
    return await cur.fetchall()


# The question's words (lexemes in the bot's text-search language, numbers left out) that
# neither the FAQ's answer nor any phrasing of the bot's FAQs holds. A statement of its own,
# run only for a match that needs it (shared.rag.faq_match.unmatched_words): inside the match
# statement, even skipped for bots without documents, it made every match 0.4 ms slower
# (BANKING77's bot, 400 questions: 1.44 against 1.02 ms).
_UNMATCHED = """
WITH q AS (
    SELECT b.text_search_config AS cfg,
           tsvector_to_array(to_tsvector(b.text_search_config, %(text)s)) AS terms
      FROM bots b WHERE b.id = %(bot)s
)
SELECT ARRAY(
    SELECT t FROM q, unnest(q.terms) t
     WHERE t ~ '[[:alpha:]]'  -- words: a number is an order's or a date, not a topic
       AND t <> ALL (tsvector_to_array(to_tsvector(
               q.cfg, (SELECT f.answer FROM faqs f WHERE f.id = %(faq)s))))
       AND NOT EXISTS (SELECT 1 FROM faq_phrasings p
                        WHERE p.bot_id = {bot} AND p.tsv @@ quote_literal(t)::tsquery)
     ORDER BY t) AS terms
"""


async def unmatched_terms(
    conn: Conn, *, bot_id: UUID, faq_id: UUID, text: str, indexed: bool = False
) -> list[str]:
    """The question's lexemes that neither the FAQ's answer nor any phrasing of the bot's
    FAQs holds; ``indexed``: the bot's phrasings have indexes of their own (full text
    through its GIN index)."""
    query = per_bot(_UNMATCHED, "p", bot_id, 0, indexed=indexed)
    cur = await conn.execute(query, {"bot": bot_id, "faq": faq_id, "text": text})
    row = await cur.fetchone()
    return list(row["terms"]) if row else []


async def delete_from_document(conn: Conn, *, document_id: UUID) -> dict[str, list[str]]:
    """Delete the FAQs a FAQ file brought (replaced whenever the file is ingested again);
    the paraphrases the bot's LLM had written for them, by normalised question."""
    cur = await conn.execute(
        "DELETE FROM faqs WHERE source_document_id = %s RETURNING question, generated_alternatives",
        (document_id,),
    )
    return {
        normalize_question(row["question"]): row["generated_alternatives"]
        for row in await cur.fetchall()
        if row["generated_alternatives"] is not None
    }
