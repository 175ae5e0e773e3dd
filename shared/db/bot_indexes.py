"""Indexes of their own for the bots with many chunks or many FAQ phrasings.

Retrieval and FAQ matching scan a bot's rows exactly (through the btree on ``bot_id``)
while that is cheap. A bot past a table's ``index_from`` rows gets two partial indexes on
its rows of that table: HNSW over the embeddings (cosine) and GIN over the full text; the
search then takes its nearest and its best full-text candidates from them
(``shared.db.chunks``, ``shared.db.faqs``). Below ``drop_below`` the indexes go again; the
gap between the two keeps a bot near the line from building and dropping over and over.

Indexes are built CONCURRENTLY (the bot keeps answering from the exact scan meanwhile),
and the bot's flag (``bots.chunks_indexed``, ``bots.faqs_indexed``) is set only once both
are valid, cleared before they are dropped. A build that failed leaves an invalid index:
the next run drops and rebuilds it. An index built for another embedding width (after
``parley reindex`` with another model) is rebuilt too. :func:`sync` is the scheduler's
``indexes`` job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from psycopg import sql

from shared.db.pool import Conn
from shared.logging import get_logger

log = get_logger("parley.db.indexes")

KINDS = ("hnsw", "fts")


@dataclass(frozen=True)
class Target:
    """A table searched per bot, and when a bot gets indexes of its own on it."""

    table: str
    flag: str  # the bots column that says the bot's indexes are ready
    prefix: str  # index names: <prefix>_<kind>_<bot id as hex>
    index_from: int
    drop_below: int


CHUNKS = Target("chunks", "chunks_indexed", "chunks", index_from=5_000, drop_below=2_500)
# An exact FAQ match of 2,000 phrasings takes ~2 ms, of 15,000 (5,000 FAQs) ~50 ms.
PHRASINGS = Target("faq_phrasings", "faqs_indexed", "faqp", index_from=2_000, drop_below=1_000)
TARGETS = (CHUNKS, PHRASINGS)


@dataclass(frozen=True)
class Change:
    table: str
    bot_id: UUID
    action: str  # "ready" (built, or found built) or "dropped"
    rows: int


def index_name(kind: str, bot_id: UUID, target: Target = CHUNKS) -> str:
    return f"{target.prefix}_{kind}_{bot_id.hex}"


async def _existing(conn: Conn, target: Target) -> dict[str, tuple[bool, str]]:
    cur = await conn.execute(
        r"SELECT c.relname AS name, i.indisvalid AS valid,"
        r"       pg_get_indexdef(i.indexrelid) AS definition"
        r"  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        r" WHERE i.indrelid = %(table)s::regclass"
        r"   AND (c.relname LIKE %(prefix)s || '\_hnsw\_%%'"
        r"        OR c.relname LIKE %(prefix)s || '\_fts\_%%')",
        {"table": target.table, "prefix": target.prefix},
    )
    return {r["name"]: (r["valid"], r["definition"]) for r in await cur.fetchall()}


async def _counts(conn: Conn, target: Target) -> dict[UUID, int]:
    cur = await conn.execute(
        sql.SQL(
            "SELECT bot_id, count(*) AS n FROM {} WHERE embedding IS NOT NULL GROUP BY bot_id"
        ).format(sql.Identifier(target.table))
    )
    return {r["bot_id"]: int(r["n"]) for r in await cur.fetchall()}


async def _flagged(conn: Conn, target: Target) -> set[UUID]:
    cur = await conn.execute(
        sql.SQL("SELECT id FROM bots WHERE {}").format(sql.Identifier(target.flag))
    )
    return {r["id"] for r in await cur.fetchall()}


async def _set_flag(conn: Conn, target: Target, bot_id: UUID, value: bool) -> None:
    await conn.execute(
        sql.SQL("UPDATE bots SET {} = %s WHERE id = %s").format(sql.Identifier(target.flag)),
        (value, bot_id),
    )


def _usable(
    existing: dict[str, tuple[bool, str]], target: Target, bot_id: UUID, dim: int
) -> dict[str, bool]:
    """Per kind: whether the bot's index exists, is valid and (HNSW) has this width."""
    usable = {}
    for kind in KINDS:
        valid, definition = existing.get(index_name(kind, bot_id, target), (False, ""))
        if kind == "hnsw":
            width = re.search(r"vector\((\d+)\)", definition)
            valid = valid and width is not None and int(width.group(1)) == dim
        usable[kind] = valid
    return usable


async def _create(conn: Conn, target: Target, bot_id: UUID, kind: str, dim: int) -> None:
    name = sql.Identifier(index_name(kind, bot_id, target))
    await conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(name))
    table, bot = sql.Identifier(target.table), sql.Literal(bot_id)
    if kind == "hnsw":
        statement = sql.SQL(
            "CREATE INDEX CONCURRENTLY {} ON {} USING hnsw"
            " ((embedding::vector({dim})) vector_cosine_ops) WHERE bot_id = {bot}"
        ).format(name, table, dim=sql.Literal(dim), bot=bot)
    else:
        statement = sql.SQL(
            "CREATE INDEX CONCURRENTLY {} ON {} USING gin (tsv) WHERE bot_id = {bot}"
        ).format(name, table, bot=bot)
    await conn.execute(statement)


async def _drop(conn: Conn, target: Target, bot_id: UUID) -> None:
    await _set_flag(conn, target, bot_id, False)
    for kind in KINDS:
        name = sql.Identifier(index_name(kind, bot_id, target))
        await conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(name))


async def _sync_target(conn: Conn, target: Target, dim: int) -> list[Change]:
    counts = await _counts(conn, target)
    existing = await _existing(conn, target)
    flagged = await _flagged(conn, target)
    owners = {UUID(hex=name.rsplit("_", 1)[1]) for name in existing} | flagged
    changes = []
    for bot_id, rows in sorted(counts.items(), key=lambda item: -item[1]):
        line = target.drop_below if bot_id in owners else target.index_from
        if rows < line:
            continue
        usable = _usable(existing, target, bot_id, dim)
        if all(usable.values()) and bot_id in flagged:
            continue
        if not all(usable.values()):
            await _set_flag(conn, target, bot_id, False)
        for kind, ok in usable.items():
            if not ok:
                await _create(conn, target, bot_id, kind, dim)
        await _set_flag(conn, target, bot_id, True)
        log.info("bot indexes ready", table=target.table, bot_id=str(bot_id), rows=rows)
        changes.append(Change(target.table, bot_id, "ready", rows))
    for bot_id in owners:
        rows = counts.get(bot_id, 0)
        if rows < target.drop_below:
            await _drop(conn, target, bot_id)
            log.info("bot indexes dropped", table=target.table, bot_id=str(bot_id), rows=rows)
            changes.append(Change(target.table, bot_id, "dropped", rows))
    return changes


async def sync(conn: Conn, *, dim: int, targets: tuple[Target, ...] = TARGETS) -> list[Change]:
    """Create the indexes bots have grown into and drop those they have shrunk out of.
    ``conn`` must be in autocommit mode (as pooled connections are)."""
    changes = []
    for target in targets:
        changes.extend(await _sync_target(conn, target, dim))
    return changes
