"""Document chunks: replaced as a whole per document, searched per bot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
from psycopg import sql

from shared.db.pool import SEARCH_CANDIDATES as CANDIDATES
from shared.db.pool import Conn
from shared.db.text_search import QUESTION_QUERY, lex_rank, per_bot
from shared.rag.chunk import Chunk


async def replace_chunks(
    conn: Conn,
    *,
    document_id: UUID,
    bot_id: UUID,
    chunks: Sequence[Chunk],
    vectors: npt.NDArray[np.float32] | None = None,
) -> int:
    """Swap the document's chunks for ``chunks``; call inside a transaction."""
    await conn.execute("DELETE FROM chunks WHERE document_id = %s", (document_id,))
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO chunks (document_id, bot_id, ord, text, heading, page, token_count,"
            " embedding, tsv) SELECT %s, b.id, %s, %s, %s, %s, %s, %s,"
            " to_tsvector(b.text_search_config, %s || ' ' || %s) FROM bots b WHERE b.id = %s",
            [
                (
                    document_id,
                    n,
                    c.text,
                    c.heading,
                    c.page,
                    c.token_estimate,
                    None if vectors is None else vectors[n],
                    c.heading,
                    c.text,
                    bot_id,
                )
                for n, c in enumerate(chunks)
            ],
        )
    await conn.execute(
        "UPDATE documents SET status = 'ready', chunk_count = %s, error = NULL,"
        " indexed_at = now(), updated_at = now() WHERE id = %s",
        (len(chunks), document_id),
    )
    return len(chunks)


RRF_K = 60
# Hybrid retrieval: the bot's nearest chunks by cosine and its best full-text matches (each
# list CANDIDATES long), fused by reciprocal rank. For most bots both lists come from an
# exact scan of the bot's own rows (through the btree on bot_id); a bot with indexes of its
# own (shared.db.bot_indexes) takes them from its HNSW and GIN indexes instead, the same
# query otherwise, so both give the same answer wherever the index finds the true nearest
# chunks. A partial index applies only when the query names its bot as a constant, hence
# the literal there.
_RETRIEVE = f"""
WITH {QUESTION_QUERY},
near AS (
    SELECT id, rank() OVER (ORDER BY distance) AS sem_rank
      FROM (SELECT c.id, {{distance}} AS distance
              FROM chunks c
             WHERE c.bot_id = {{bot}} AND c.embedding IS NOT NULL
             ORDER BY {{distance}}  -- by distance alone, or no index can give the order
             LIMIT {CANDIDATES}) nearest
),
words AS (
    SELECT id, rank() OVER (ORDER BY lex DESC) AS lex_rank
      FROM (SELECT c.id, ts_rank_cd(c.tsv, q.query) AS lex
              FROM chunks c, q
             WHERE c.bot_id = {{bot}} AND c.tsv @@ q.query AND c.embedding IS NOT NULL
             ORDER BY lex DESC, c.id
             LIMIT {CANDIDATES}) best
),
fused AS (
    SELECT coalesce(n.id, w.id) AS id,
           coalesce(1.0 / (%(k)s + n.sem_rank), 0) + coalesce(1.0 / (%(k)s + w.lex_rank), 0)
               AS fused
      FROM near n FULL JOIN words w ON w.id = n.id
)
SELECT c.id, c.document_id, c.text, c.heading, c.page,
       1 - (c.embedding <=> %(vec)s) AS cos, {lex_rank("c.tsv")} AS lex, f.fused,
       d.title, d.source_uri
  FROM fused f JOIN chunks c ON c.id = f.id JOIN documents d ON d.id = c.document_id, q
 ORDER BY f.fused DESC, c.id
 LIMIT %(limit)s
"""


def retrieve_query(bot_id: UUID, dim: int, *, indexed: bool) -> sql.Composed:
    """The retrieval statement: by exact scan, or through the bot's own indexes."""
    return per_bot(_RETRIEVE, "c", bot_id, dim, indexed=indexed)


async def search(
    conn: Conn,
    *,
    bot_id: UUID,
    text: str,
    vector: npt.NDArray[np.float32],
    limit: int,
    indexed: bool = False,
) -> list[dict[str, Any]]:
    """The bot's best chunks for the question; ``indexed``: through the bot's own indexes
    (``bots.chunks_indexed``), else by an exact scan."""
    params = {"bot": bot_id, "text": text, "vec": vector, "k": RRF_K, "limit": limit}
    cur = await conn.execute(retrieve_query(bot_id, len(vector), indexed=indexed), params)
    return await cur.fetchall()


async def held_terms(
    conn: Conn, *, chunk_ids: Sequence[int], terms: Sequence[str]
) -> dict[int, list[str]]:
    """For each of the chunks, those of ``terms`` (lexemes in its bot's text-search
    language) that it holds."""
    cur = await conn.execute(
        "SELECT c.id, ARRAY(SELECT t FROM unnest(%(terms)s::text[]) t"
        "                    WHERE c.tsv @@ quote_literal(t)::tsquery ORDER BY t) AS held"
        "  FROM chunks c WHERE c.id = ANY(%(ids)s)",
        {"terms": list(terms), "ids": list(chunk_ids)},
    )
    return {row["id"]: list(row["held"]) for row in await cur.fetchall()}
