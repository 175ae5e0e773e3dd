"""Document chunks: replaced as a whole per document, searched per bot."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import numpy as np
import numpy.typing as npt

from shared.db.pool import Conn
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
