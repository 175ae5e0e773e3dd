"""Indexes of their own for the bots with many chunks.

Retrieval scans a bot's chunks exactly (through the btree on ``bot_id``) while that is
cheap. A bot past ``INDEX_FROM`` chunks gets two partial indexes, on its rows only: HNSW
over its embeddings (cosine) and GIN over its full text; retrieval then takes the nearest
candidates from the one and the best full-text candidates from the other and fuses those
(``shared.db.chunks``). Below ``DROP_BELOW`` the indexes go again; the gap between the
two keeps a bot near the line from building and dropping over and over.

Indexes are built CONCURRENTLY (the bot keeps answering from the exact scan meanwhile),
and ``bots.chunks_indexed`` is set only once both are valid, cleared before they are
dropped. A build that failed leaves an invalid index: the next run drops and rebuilds
it. An index built for another embedding width (after ``parley reindex`` with another
model) is rebuilt too. :func:`sync` is the scheduler's ``indexes`` job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from psycopg import sql

from shared.db.pool import Conn
from shared.logging import get_logger

log = get_logger("parley.db.indexes")

INDEX_FROM = 5_000  # chunks; an exact scan of this many takes ~9 ms (parley bench scale)
DROP_BELOW = 2_500

_PREFIX = {"hnsw": "chunks_hnsw_", "fts": "chunks_fts_"}
_EXISTING = r"""
SELECT c.relname AS name, i.indisvalid AS valid, pg_get_indexdef(i.indexrelid) AS definition
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = 'chunks'::regclass
   AND (c.relname LIKE 'chunks\_hnsw\_%' OR c.relname LIKE 'chunks\_fts\_%')
"""


@dataclass(frozen=True)
class Change:
    bot_id: UUID
    action: str  # "ready" (built, or found built) or "dropped"
    chunks: int


def index_name(kind: str, bot_id: UUID) -> str:
    return f"{_PREFIX[kind]}{bot_id.hex}"


async def _existing(conn: Conn) -> dict[str, tuple[bool, str]]:
    cur = await conn.execute(_EXISTING)
    return {r["name"]: (r["valid"], r["definition"]) for r in await cur.fetchall()}


async def _chunk_counts(conn: Conn) -> dict[UUID, int]:
    cur = await conn.execute(
        "SELECT bot_id, count(*) AS n FROM chunks WHERE embedding IS NOT NULL GROUP BY bot_id"
    )
    return {r["bot_id"]: int(r["n"]) for r in await cur.fetchall()}


async def _indexed_bots(conn: Conn) -> set[UUID]:
    cur = await conn.execute("SELECT id FROM bots WHERE chunks_indexed")
    return {r["id"] for r in await cur.fetchall()}


def _usable(existing: dict[str, tuple[bool, str]], bot_id: UUID, dim: int) -> dict[str, bool]:
    """Per kind: whether the bot's index exists, is valid and (HNSW) has this width."""
    usable = {}
    for kind in _PREFIX:
        valid, definition = existing.get(index_name(kind, bot_id), (False, ""))
        if kind == "hnsw":
            width = re.search(r"vector\((\d+)\)", definition)
            valid = valid and width is not None and int(width.group(1)) == dim
        usable[kind] = valid
    return usable


async def _create(conn: Conn, bot_id: UUID, kind: str, dim: int) -> None:
    name = sql.Identifier(index_name(kind, bot_id))
    await conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(name))
    bot = sql.Literal(bot_id)
    if kind == "hnsw":
        statement = sql.SQL(
            "CREATE INDEX CONCURRENTLY {} ON chunks USING hnsw"
            " ((embedding::vector({dim})) vector_cosine_ops) WHERE bot_id = {bot}"
        ).format(name, dim=sql.Literal(dim), bot=bot)
    else:
        statement = sql.SQL(
            "CREATE INDEX CONCURRENTLY {} ON chunks USING gin (tsv) WHERE bot_id = {bot}"
        ).format(name, bot=bot)
    await conn.execute(statement)


async def _drop(conn: Conn, bot_id: UUID) -> None:
    await conn.execute("UPDATE bots SET chunks_indexed = false WHERE id = %s", (bot_id,))
    for kind in _PREFIX:
        name = sql.Identifier(index_name(kind, bot_id))
        await conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(name))


async def sync(
    conn: Conn, *, dim: int, index_from: int = INDEX_FROM, drop_below: int = DROP_BELOW
) -> list[Change]:
    """Create the indexes bots have grown into and drop those they have shrunk out of.
    ``conn`` must be in autocommit mode (as pooled connections are)."""
    counts = await _chunk_counts(conn)
    existing = await _existing(conn)
    flagged = await _indexed_bots(conn)
    owners = {UUID(hex=name.rsplit("_", 1)[1]) for name in existing} | flagged
    changes = []
    for bot_id, chunks in sorted(counts.items(), key=lambda item: -item[1]):
        keep = bot_id in flagged or bot_id in owners
        if chunks < (drop_below if keep else index_from):
            continue
        usable = _usable(existing, bot_id, dim)
        if all(usable.values()) and bot_id in flagged:
            continue
        if not all(usable.values()):
            await conn.execute("UPDATE bots SET chunks_indexed = false WHERE id = %s", (bot_id,))
        for kind, ok in usable.items():
            if not ok:
                await _create(conn, bot_id, kind, dim)
        await conn.execute("UPDATE bots SET chunks_indexed = true WHERE id = %s", (bot_id,))
        log.info("bot indexes ready", bot_id=str(bot_id), chunks=chunks)
        changes.append(Change(bot_id, "ready", chunks))
    for bot_id in owners:
        chunks = counts.get(bot_id, 0)
        if chunks < drop_below:
            await _drop(conn, bot_id)
            log.info("bot indexes dropped", bot_id=str(bot_id), chunks=chunks)
            changes.append(Change(bot_id, "dropped", chunks))
    return changes
