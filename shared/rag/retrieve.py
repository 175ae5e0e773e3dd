"""Hybrid retrieval of document chunks for RAG: cosine similarity plus full-text rank,
fused by reciprocal rank, over an exact scan of the bot's own chunks (or, for a bot with
many, over the candidates its own indexes give: shared.db.bot_indexes)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import numpy as np
import numpy.typing as npt

from shared.db import chunks
from shared.db.pool import Conn
from shared.embeddings.base import DEFAULT_CALIBRATION

# Below this cosine a passage is not about the question at all (all-MiniLM-L6-v2:
# unrelated sentences score around 0.0-0.2, paraphrases 0.6 and up); other models pass
# their embedder's calibration.passage_relevance.
MIN_RELEVANCE = DEFAULT_CALIBRATION.passage_relevance


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
    indexed: bool = False,
) -> list[Passage]:
    """The most relevant passages, best first; none when nothing is relevant enough.
    ``indexed``: the bot has indexes of its own (``bots.chunks_indexed``)."""
    passages = []
    found = await chunks.search(
        conn, bot_id=bot_id, text=text, vector=vector, limit=limit, indexed=indexed
    )
    for row in found:
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
