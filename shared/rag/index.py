"""Keeping stored embeddings in step with the embedding models.

One model per deployment: its name and dimension are recorded in ``deployment``. Starting
with another model is a clear error until ``parley reindex`` re-embeds everything. A bot
whose language that model does not understand embeds with the multilingual one instead
(``Runtime.embedder_for``): a bot whose language changes is re-embedded with its new model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from shared.db import bots, deployment, embeddings
from shared.db.pool import Conn
from shared.embeddings.base import Embedder

BATCH = 256


class EmbeddingModelMismatchError(Exception):
    """The stored embeddings were made by another model."""


async def check_embedding_model(conn: Conn, embedder: Embedder) -> None:
    """Record the model on first use; refuse a different one afterwards."""
    row = await deployment.claim_embedding_model(conn, name=embedder.name, dim=embedder.dim)
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
    for table in embeddings.TABLES:
        while True:
            rows = await embeddings.pending(conn, table=table, bot_id=bot_id, limit=BATCH)
            if not rows:
                break
            texts = [r["text"] for r in rows]
            # FAQ phrasings are questions, like what visitors ask; chunks are passages.
            vectors = await (
                embedder.embed_documents(texts) if table == "chunks" else embedder.embed(texts)
            )
            ids = [r["id"] for r in rows]
            await embeddings.store(conn, table=table, rows=list(zip(ids, vectors, strict=True)))
            done += len(rows)
    return done


async def embed_every_bot(conn: Conn, embedder_for: Callable[[dict[str, Any]], Embedder]) -> int:
    """Embed every bot's pending texts with that bot's model; returns how many."""
    count = 0
    for bot in await bots.languages(conn):
        count += await embed_pending(conn, embedder_for(bot), bot_id=bot["id"])
    return count


async def reindex(
    conn: Conn, embedder: Embedder, embedder_for: Callable[[dict[str, Any]], Embedder]
) -> int:
    """Re-embed every bot's texts with its model (``embedder_for``) and record ``embedder``
    as the deployment's."""
    async with conn.transaction():
        await embeddings.forget_all(conn)
        count = await embed_every_bot(conn, embedder_for)
        await deployment.set_embedding_model(conn, name=embedder.name, dim=embedder.dim)
        await bots.bump_every_kb_version(conn)
    return count


async def reembed_bot(conn: Conn, embedder: Embedder, bot: dict[str, Any]) -> int:
    """Re-embed one bot's texts with ``embedder`` (its model changed with its language), in
    the caller's transaction; cached answers go with the knowledge-base version."""
    await embeddings.forget_all(conn, bot_id=bot["id"])
    count = await embed_pending(conn, embedder, bot_id=bot["id"])
    await bots.bump_kb_version(conn, tenant_id=bot["tenant_id"], bot_id=bot["id"])
    return count
