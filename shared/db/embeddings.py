"""Stored embeddings of FAQ phrasings and document chunks: what still needs one, and
writing them (the two tables share the shape: id, text, embedding, bot_id)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from uuid import UUID

import numpy as np
import numpy.typing as npt

from shared.db.pool import Conn

Table = Literal["faq_phrasings", "chunks"]
TABLES: tuple[Table, ...] = ("faq_phrasings", "chunks")


async def pending(
    conn: Conn, *, table: Table, bot_id: UUID | None, limit: int
) -> list[dict[str, Any]]:
    """Rows without an embedding yet (of one bot, or all), oldest first."""
    cur = await conn.execute(
        f"SELECT id, text FROM {table} WHERE embedding IS NULL"
        " AND (%(bot)s::uuid IS NULL OR bot_id = %(bot)s) ORDER BY id LIMIT %(n)s",
        {"bot": bot_id, "n": limit},
    )
    return await cur.fetchall()


async def store(
    conn: Conn, *, table: Table, rows: Sequence[tuple[Any, npt.NDArray[np.float32]]]
) -> None:
    async with conn.cursor() as write:
        await write.executemany(
            f"UPDATE {table} SET embedding = %s WHERE id = %s",
            [(vector, row_id) for row_id, vector in rows],
        )


async def forget_all(conn: Conn, *, bot_id: UUID | None = None) -> None:
    """Drop the stored embeddings (of one bot, or all), so they are made again."""
    for table in TABLES:
        await conn.execute(
            f"UPDATE {table} SET embedding = NULL WHERE %(bot)s::uuid IS NULL OR bot_id = %(bot)s",
            {"bot": bot_id},
        )
