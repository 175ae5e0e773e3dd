"""Document chunks: replaced as a whole per document, searched per bot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt

from shared.db.pool import Conn
from shared.db.text_search import QUESTION_QUERY, lex_rank
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
# Hybrid retrieval over an exact scan of the bot's own chunks: cosine plus full-text rank,
# fused by reciprocal rank (see shared.rag.retrieve).
_RETRIEVE = f"""
WITH {QUESTION_QUERY},
scored AS (
    SELECT c.id, c.document_id, c.text, c.heading, c.page,
           1 - (c.embedding <=> %(vec)s) AS cos,
           {lex_rank("c.tsv")} AS lex
      FROM chunks c, q
     WHERE c.bot_id = %(bot)s AND c.embedding IS NOT NULL
),
ranked AS (
    SELECT *, rank() OVER (ORDER BY cos DESC) AS sem_rank,
              rank() OVER (ORDER BY lex DESC) AS lex_rank
      FROM scored
)
SELECT r.id, r.document_id, r.text, r.heading, r.page, r.cos, r.lex,
       1.0 / (%(k)s + r.sem_rank) + CASE WHEN r.lex > 0 THEN 1.0 / (%(k)s + r.lex_rank)
                                         ELSE 0 END AS fused,
       d.title, d.source_uri
  FROM ranked r JOIN documents d ON d.id = r.document_id
 ORDER BY fused DESC
 LIMIT %(limit)s
"""


async def search(
    conn: Conn, *, bot_id: UUID, text: str, vector: npt.NDArray[np.float32], limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        _RETRIEVE, {"bot": bot_id, "text": text, "vec": vector, "k": RRF_K, "limit": limit}
    )
    return await cur.fetchall()
