"""Keeping stored embeddings in step with the deployment's embedding model.

One model per deployment: its name and dimension are recorded in ``deployment``. Starting
with another model is a clear error until ``parley reindex`` re-embeds everything.
"""

from __future__ import annotations

from uuid import UUID

from shared.db.pool import Conn
from shared.embeddings.base import Embedder

BATCH = 256


class EmbeddingModelMismatchError(Exception):
    """The stored embeddings were made by another model."""


async def check_embedding_model(conn: Conn, embedder: Embedder) -> None:
    """Record the model on first use; refuse a different one afterwards."""
    cur = await conn.execute(
        "INSERT INTO deployment (id, embedding_model, embedding_dim) VALUES (true, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET"
        " embedding_model = COALESCE(deployment.embedding_model, EXCLUDED.embedding_model),"
        " embedding_dim = COALESCE(deployment.embedding_dim, EXCLUDED.embedding_dim)"
        " RETURNING embedding_model, embedding_dim",
        (embedder.name, embedder.dim),
    )
    row = await cur.fetchone()
    assert row is not None
    if (row["embedding_model"], row["embedding_dim"]) != (embedder.name, embedder.dim):
        raise EmbeddingModelMismatchError(
            f"PARLEY_EMBEDDINGS: the knowledge base was embedded with {row['embedding_model']}"
            f" ({row['embedding_dim']} dimensions), not {embedder.name} ({embedder.dim}); "
            "run `parley reindex` to re-embed it, or switch back"
        )


async def embed_pending(conn: Conn, embedder: Embedder, *, bot_id: UUID | None = None) -> int:
    """Embed every FAQ phrasing and chunk that has no embedding yet; returns how many."""
    done = 0
    for table in ("faq_phrasings", "chunks"):
        while True:
            cur = await conn.execute(
                f"SELECT id, text FROM {table} WHERE embedding IS NULL"  # noqa: S608
                " AND (%(bot)s::uuid IS NULL OR bot_id = %(bot)s) ORDER BY id LIMIT %(n)s",
                {"bot": bot_id, "n": BATCH},
            )
            rows = await cur.fetchall()
            if not rows:
                break
            vectors = await embedder.embed([r["text"] for r in rows])
            async with conn.cursor() as write:
                await write.executemany(
                    f"UPDATE {table} SET embedding = %s WHERE id = %s",  # noqa: S608
                    [(vector, row["id"]) for row, vector in zip(rows, vectors, strict=True)],
                )
            done += len(rows)
    return done


async def reindex(conn: Conn, embedder: Embedder) -> int:
    """Re-embed everything with ``embedder`` and record it as the deployment's model."""
    async with conn.transaction():
        await conn.execute("UPDATE faq_phrasings SET embedding = NULL")
        await conn.execute("UPDATE chunks SET embedding = NULL")
        count = await embed_pending(conn, embedder)
        await conn.execute(
            "INSERT INTO deployment (id, embedding_model, embedding_dim) VALUES (true, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET embedding_model = EXCLUDED.embedding_model,"
            " embedding_dim = EXCLUDED.embedding_dim",
            (embedder.name, embedder.dim),
        )
        await conn.execute("UPDATE bots SET kb_version = kb_version + 1")
    return count
