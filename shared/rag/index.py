"""Keeping stored embeddings in step with the embedding models.

One model per deployment: its name and dimension are recorded in ``deployment``. Starting
with another local model (the runner changed, or an upgrade brought another) re-embeds
everything then and there, offline; starting with another remote one is a clear error until
``parley reindex`` re-embeds everything (that costs the provider's fees, so the operator
says when). A bot whose language that model does not understand embeds with the
multilingual one instead (``Runtime.embedder_for``): a bot whose language changes is
re-embedded with its new model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from shared.db import bots, deployment, embeddings
from shared.db.pool import Conn
from shared.embeddings.base import Embedder
from shared.logging import get_logger

log = get_logger("parley.index")

BATCH = 256
_REEMBED_LOCK = 7_000_001  # one process re-embeds; the others wait, then find it done


class EmbeddingModelMismatchError(Exception):
    """The stored embeddings were made by another model."""


async def check_embedding_model(
    conn: Conn,
    embedder: Embedder,
    embedder_for: Callable[[dict[str, Any]], Embedder] | None = None,
) -> int:
    """Record the model on first use. Afterwards a different local model re-embeds every
    bot (``embedder_for``) now and returns how many texts; a different remote one, or any
    without ``embedder_for``, is refused."""
    row = await deployment.claim_embedding_model(conn, name=embedder.name, dim=embedder.dim)
    if _recorded(row, embedder):
        return 0
    if embedder_for is None or not (_local(row["embedding_model"]) and _local(embedder.name)):
        raise EmbeddingModelMismatchError(
            f"PARLEY_EMBEDDINGS: the knowledge base was embedded with {row['embedding_model']}"
            f" ({row['embedding_dim']} dimensions), not {embedder.name} ({embedder.dim}); "
            "run `parley reindex` to re-embed it, or switch back"
        )
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_REEMBED_LOCK,))
        row = await deployment.claim_embedding_model(conn, name=embedder.name, dim=embedder.dim)
        if _recorded(row, embedder):  # another process did it while this one waited
            return 0
        log.info(
            "re-embedding the knowledge base with the local model",
            was=row["embedding_model"],
            now=embedder.name,
        )
        return await reindex(conn, embedder, embedder_for)


def _recorded(row: dict[str, Any], embedder: Embedder) -> bool:
    return (row["embedding_model"], row["embedding_dim"]) == (embedder.name, embedder.dim)


def _local(model: str | None) -> bool:
    """Whether ``model`` (a recorded name) runs in Parley's process: re-embedding costs time,
    not fees."""
    return model is not None and model.startswith("local:")


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
