"""LLM tokens spent per bot and day, for the daily budget and cost analytics."""

from __future__ import annotations

from uuid import UUID

from shared.db.pool import Conn


async def tokens_today(conn: Conn, *, bot_id: UUID) -> int:
    cur = await conn.execute(
        "SELECT coalesce(sum(tokens_in + tokens_out), 0) AS n FROM llm_usage_daily"
        " WHERE bot_id = %s AND day = current_date",
        (bot_id,),
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def add_usage(
    conn: Conn, *, bot_id: UUID, provider: str, tokens_in: int, tokens_out: int, cost: float
) -> None:
    await conn.execute(
        "INSERT INTO llm_usage_daily AS u (bot_id, day, provider, tokens_in, tokens_out, cost_usd)"
        " VALUES (%s, current_date, %s, %s, %s, %s) ON CONFLICT (bot_id, day, provider) DO UPDATE"
        " SET tokens_in = u.tokens_in + EXCLUDED.tokens_in,"
        " tokens_out = u.tokens_out + EXCLUDED.tokens_out,"
        " cost_usd = u.cost_usd + EXCLUDED.cost_usd",
        (bot_id, provider, tokens_in, tokens_out, cost),
    )
