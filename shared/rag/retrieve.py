"""Hybrid retrieval of document chunks for RAG: cosine similarity plus full-text rank,
fused by reciprocal rank, over an exact scan of the bot's own chunks."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import numpy as np
import numpy.typing as npt

from shared.db.pool import Conn

# Below this cosine a passage is not about the question at all (all-MiniLM-L6-v2:
# unrelated sentences score around 0.0-0.2, paraphrases 0.6 and up).
MIN_RELEVANCE = 0.30
RRF_K = 60

_RETRIEVE = """
WITH q AS (
    SELECT replace(plainto_tsquery(b.text_search_config, %(text)s)::text, '&', '|') AS terms,
           b.text_search_config AS cfg
      FROM bots b WHERE b.id = %(bot)s
),
scored AS (
    SELECT c.id, c.document_id, c.text, c.heading, c.page,
           1 - (c.embedding <=> %(vec)s) AS cos,
           CASE WHEN q.terms = '' THEN 0
                ELSE ts_rank_cd(c.tsv, to_tsquery(q.cfg, q.terms)) END AS lex
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


@dataclass(frozen=True)
class Passage:
    chunk_id: int
    document_id: UUID
    title: str
    heading: str
    page: int | None
    text: str
    similarity: float
    url: str | None = None

    @property
    def label(self) -> str:
        """How the passage is cited: "Returns policy › Refunds, p. 2"."""
        label = self.heading or self.title
        return f"{label}, p. {self.page}" if self.page else label


async def retrieve(
    conn: Conn,
    *,
    bot_id: UUID,
    text: str,
    vector: npt.NDArray[np.float32],
    limit: int = 4,
    min_relevance: float = MIN_RELEVANCE,
) -> list[Passage]:
    """The most relevant passages, best first; none when nothing is relevant enough."""
    cur = await conn.execute(
        _RETRIEVE, {"bot": bot_id, "text": text, "vec": vector, "k": RRF_K, "limit": limit}
    )
    passages = []
    for row in await cur.fetchall():
        if float(row["cos"]) < min_relevance:
            continue
        uri = row["source_uri"] or ""
        passages.append(
            Passage(
                chunk_id=row["id"],
                document_id=row["document_id"],
                title=row["title"],
                heading=row["heading"],
                page=row["page"],
                text=row["text"],
                similarity=float(row["cos"]),
                url=uri if uri.startswith(("http://", "https://")) else None,
            )
        )
    return passages
