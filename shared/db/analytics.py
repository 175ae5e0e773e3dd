"""The queries behind per-bot analytics (shaped and decrypted by shared.analytics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.db.pool import Conn


@dataclass(frozen=True)
class Period:
    bot_id: UUID
    since: datetime
    until: datetime
    sample: int  # at most this many questions are read for the question lists

    def params(self) -> dict[str, Any]:
        return {"bot": self.bot_id, "since": self.since, "until": self.until, "sample": self.sample}


_TOTALS = """
SELECT count(DISTINCT conversation_id) AS conversations,
       count(*) AS messages,
       count(*) FILTER (WHERE role = 'assistant') AS answers,
       count(*) FILTER (WHERE source = 'faq') AS faq,
       count(*) FILTER (WHERE source = 'rag') AS rag,
       count(*) FILTER (WHERE source = 'fallback') AS fallback,
       count(*) FILTER (WHERE source = 'cache') AS cache,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)
           FILTER (WHERE role = 'assistant') AS latency_p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
           FILTER (WHERE role = 'assistant') AS latency_p95_ms,
       count(*) FILTER (WHERE feedback = 1) AS feedback_up,
       count(*) FILTER (WHERE feedback = -1) AS feedback_down
  FROM messages
 WHERE bot_id = %(bot)s AND created_at >= %(since)s AND created_at < %(until)s
"""

_DAILY = """
SELECT (created_at AT TIME ZONE 'UTC')::date AS day,
       count(*) FILTER (WHERE role = 'assistant') AS answers,
       count(*) FILTER (WHERE source = 'faq') AS faq,
       count(*) FILTER (WHERE source = 'rag') AS rag,
       count(*) FILTER (WHERE source = 'fallback') AS fallback,
       count(*) FILTER (WHERE source = 'cache') AS cache,
       coalesce(sum(tokens_in + tokens_out), 0) AS tokens,
       coalesce(sum(cost_usd), 0) AS cost_usd,
       count(*) FILTER (WHERE feedback = 1) AS feedback_up,
       count(*) FILTER (WHERE feedback = -1) AS feedback_down
  FROM messages
 WHERE bot_id = %(bot)s AND created_at >= %(since)s AND created_at < %(until)s
 GROUP BY 1 ORDER BY 1
"""

_PROVIDERS = """
SELECT provider, model, count(*) AS answers, sum(tokens_in) AS tokens_in,
       sum(tokens_out) AS tokens_out, sum(cost_usd) AS cost_usd
  FROM messages
 WHERE bot_id = %(bot)s AND created_at >= %(since)s AND created_at < %(until)s
   AND role = 'assistant' AND provider IS NOT NULL
 GROUP BY provider, model ORDER BY provider, model
"""

_QUESTIONS = """
SELECT content_enc FROM messages
 WHERE bot_id = %(bot)s AND role = 'user' AND created_at >= %(since)s AND created_at < %(until)s
 ORDER BY created_at DESC LIMIT %(sample)s
"""

# The question an answer ``a`` replied to: the visitor's latest message before it.
_ASKED = """
  JOIN LATERAL (
        SELECT u.content_enc FROM messages u
         WHERE u.conversation_id = a.conversation_id AND u.role = 'user'
           AND u.created_at <= a.created_at
         ORDER BY u.created_at DESC LIMIT 1) q ON true
"""

_UNANSWERED = f"""
SELECT q.content_enc
  FROM messages a {_ASKED} WHERE a.bot_id = %(bot)s AND a.source = 'fallback'
   AND a.created_at >= %(since)s AND a.created_at < %(until)s
 ORDER BY a.created_at DESC LIMIT %(sample)s
"""


async def totals(conn: Conn, period: Period) -> dict[str, Any]:
    row = await (await conn.execute(_TOTALS, period.params())).fetchone()
    assert row is not None
    return row


async def daily(conn: Conn, period: Period) -> list[dict[str, Any]]:
    """The period's numbers per UTC day (days without messages are left out)."""
    return await (await conn.execute(_DAILY, period.params())).fetchall()


async def offers(conn: Conn, period: Period) -> dict[str, Any]:
    """Handoff texts that offered FAQs (``made``), and how many of those the visitor took."""
    row = await (await conn.execute(_OFFERS, period.params())).fetchone()
    assert row is not None
    return row


async def providers(conn: Conn, period: Period) -> list[dict[str, Any]]:
    return await (await conn.execute(_PROVIDERS, period.params())).fetchall()


async def questions(conn: Conn, period: Period) -> list[dict[str, Any]]:
    """The period's latest questions, still encrypted."""
    return await (await conn.execute(_QUESTIONS, period.params())).fetchall()


async def unanswered(conn: Conn, period: Period) -> list[dict[str, Any]]:
    """The questions that got the handoff text, still encrypted."""
    return await (await conn.execute(_UNANSWERED, period.params())).fetchall()


# The FAQ ``n.faq_id`` that answered the conversation's next message after a handoff text
# ``a``; ``_TAKEN``: it was one ``a`` offered (``why.suggested``): the visitor took the
# offer, or asked that FAQ's way.
_NEXT_ANSWER = """
  LEFT JOIN LATERAL (
        SELECT m.faq_id FROM messages m
         WHERE m.conversation_id = a.conversation_id AND m.role = 'assistant'
           AND m.created_at > a.created_at
         ORDER BY m.created_at LIMIT 1) n ON a.source = 'fallback'
"""
_TAKEN = "a.why->'suggested' @> jsonb_build_array(jsonb_build_object('faq_id', n.faq_id::text))"

_OFFERS = f"""
SELECT count(*) AS made, count(*) FILTER (WHERE {_TAKEN}) AS taken
  FROM messages a {_NEXT_ANSWER}
 WHERE a.bot_id = %(bot)s AND a.role = 'assistant' AND a.source = 'fallback'
   AND a.why ? 'suggested' AND a.created_at >= %(since)s AND a.created_at < %(until)s
"""

# Questions whose answer fell back to the handoff text or got a thumbs-down; ``picked``: the
# FAQ its visitor took from those the handoff text offered.
_GAPS = f"""
SELECT q.content_enc, a.source = 'fallback' AS fallback, a.feedback = -1 AS thumbs_down,
       CASE WHEN {_TAKEN} THEN n.faq_id END AS picked
  FROM messages a {_ASKED} {_NEXT_ANSWER}
 WHERE a.bot_id = %(bot)s AND a.role = 'assistant'
   AND (a.source = 'fallback' OR a.feedback = -1)
   AND a.created_at >= %(since)s AND a.created_at < %(until)s
 ORDER BY a.created_at DESC LIMIT %(sample)s
"""


async def gaps(conn: Conn, period: Period) -> list[dict[str, Any]]:
    """Questions not answered (handoff text) or answered badly (thumbs-down), encrypted,
    and the FAQ the visitor picked from those offered with the handoff text, if any."""
    return await (await conn.execute(_GAPS, period.params())).fetchall()


async def dismissed(conn: Conn, *, bot_id: UUID) -> set[bytes]:
    cur = await conn.execute(
        "SELECT question_hash FROM gap_dismissals WHERE bot_id = %s", (bot_id,)
    )
    return {bytes(row["question_hash"]) for row in await cur.fetchall()}


async def dismiss(conn: Conn, *, bot_id: UUID, hashes: list[bytes]) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO gap_dismissals (bot_id, question_hash) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            [(bot_id, h) for h in hashes],
        )
