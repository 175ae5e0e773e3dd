"""A bot's spending this month, the holds that keep a burst under its cap, and the 80%
alert (a notification row, sent by the ``notify`` job like a handoff's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.db.pool import Conn

HOLD_MINUTES = 5  # longer than any answer takes (the LLM deadline is 60 s)

_MONTH = "date_trunc('month', current_date)::date"
_SPENT = (
    "SELECT coalesce(sum(cost_usd), 0) AS usd FROM llm_usage_daily"
    f" WHERE bot_id = %(bot_id)s AND day >= {_MONTH}"
)
_HOLD = f"""
WITH spent AS ({_SPENT}),
held AS (
    SELECT coalesce(sum(cost_usd), 0) AS usd FROM spend_holds
     WHERE bot_id = %(bot_id)s AND expires_at > now()
),
hold AS (
    INSERT INTO spend_holds (bot_id, cost_usd, expires_at)
    SELECT %(bot_id)s, %(cost_usd)s, now() + make_interval(mins => {HOLD_MINUTES})
      FROM spent, held
     WHERE spent.usd + held.usd < %(cap_usd)s
    RETURNING id
)
SELECT (SELECT id FROM hold) AS hold_id, spent.usd AS spent_usd FROM spent
"""
_ALERT = f"""
WITH claimed AS (
    UPDATE bots SET spend_alerted_month = {_MONTH}
     WHERE id = %(bot_id)s AND spend_alerted_month IS DISTINCT FROM {_MONTH}
    RETURNING id, handoff_webhook_url, handoff_email
),
sent AS (
    INSERT INTO handoff_notifications (bot_id, channel, event, details)
    SELECT c.id, v.channel, 'spend.alert', %(details)s
      FROM claimed c,
           LATERAL (VALUES ('webhook', c.handoff_webhook_url IS NOT NULL),
                           ('email', c.handoff_email IS NOT NULL)) AS v(channel, wanted)
     WHERE v.wanted
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, (SELECT count(*) FROM sent) AS channels
"""


@dataclass(frozen=True)
class Hold:
    id: UUID | None  # None: the cap is reached, nothing may be spent
    spent_usd: float  # this month's spending before this answer


_USAGE = """
INSERT INTO llm_usage_daily AS u (bot_id, day, provider, tokens_in, tokens_out, cost_usd)
VALUES (%(bot_id)s, current_date, %(provider)s, %(tokens_in)s, %(tokens_out)s, %(cost_usd)s)
ON CONFLICT (bot_id, day, provider) DO UPDATE
   SET tokens_in = u.tokens_in + EXCLUDED.tokens_in,
       tokens_out = u.tokens_out + EXCLUDED.tokens_out,
       cost_usd = u.cost_usd + EXCLUDED.cost_usd
"""


async def add_usage(
    conn: Conn, *, bot_id: UUID, provider: str, tokens: tuple[int, int], cost_usd: float
) -> None:
    """Count tokens a bot spent outside an answer (its FAQs' paraphrases) in its day's usage,
    so its budget, its cap and its cost analytics include them."""
    await conn.execute(
        _USAGE,
        {
            "bot_id": bot_id,
            "provider": provider,
            "tokens_in": tokens[0],
            "tokens_out": tokens[1],
            "cost_usd": cost_usd,
        },
    )


async def month_spent_usd(conn: Conn, *, bot_id: UUID) -> float:
    cur = await conn.execute(_SPENT, {"bot_id": bot_id})
    row = await cur.fetchone()
    return float(row["usd"]) if row else 0.0


async def hold(conn: Conn, *, bot_id: UUID, cost_usd: float, cap_usd: float) -> Hold:
    """Hold ``cost_usd`` (the most an answer can cost) if the month's spending and what
    other answers hold are still under ``cap_usd``. One bot's holds are taken one at a
    time (an advisory lock), so two answers never both take the last room."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s::text, 7))", (bot_id,))
        cur = await conn.execute(
            _HOLD, {"bot_id": bot_id, "cost_usd": cost_usd, "cap_usd": cap_usd}
        )
        row = await cur.fetchone()
    assert row is not None
    return Hold(row["hold_id"], float(row["spent_usd"]))


async def release(conn: Conn, *, bot_id: UUID, hold_id: UUID) -> None:
    """The answer's real cost is stored (or nothing was spent): drop its hold, and the
    bot's holds that expired."""
    await conn.execute(
        "DELETE FROM spend_holds WHERE id = %(id)s OR (bot_id = %(bot_id)s AND expires_at < now())",
        {"id": hold_id, "bot_id": bot_id},
    )


async def alert_once(conn: Conn, *, bot_id: UUID, details: dict[str, Any]) -> tuple[bool, int]:
    """Queue this month's spending alert unless it was queued already: (queued now, how
    many channels it goes to)."""
    cur = await conn.execute(_ALERT, {"bot_id": bot_id, "details": Jsonb(details)})
    row = await cur.fetchone()
    assert row is not None
    return bool(row["claimed"]), int(row["channels"])
