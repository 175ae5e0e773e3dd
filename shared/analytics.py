"""Per-bot analytics for a period: volumes, answer sources, latency, cost, feedback,
top questions and unanswered questions (decrypted in memory, never stored in clear)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.crypto import DecryptionError, TenantCipher
from shared.db.pool import Conn
from shared.text import normalize_question

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

_UNANSWERED = """
SELECT q.content_enc
  FROM messages a
  JOIN LATERAL (
        SELECT u.content_enc FROM messages u
         WHERE u.conversation_id = a.conversation_id AND u.role = 'user'
           AND u.created_at <= a.created_at
         ORDER BY u.created_at DESC LIMIT 1) q ON true
 WHERE a.bot_id = %(bot)s AND a.source = 'fallback'
   AND a.created_at >= %(since)s AND a.created_at < %(until)s
 ORDER BY a.created_at DESC LIMIT %(sample)s
"""

SAMPLE = 5000


def _count(cipher: TenantCipher, rows: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    counter: Counter[str] = Counter()
    for row in rows:
        try:
            counter[normalize_question(cipher.decrypt(row["content_enc"]))] += 1
        except DecryptionError:
            continue
    return [{"question": q, "count": n} for q, n in counter.most_common(top) if q]


async def bot_analytics(
    conn: Conn,
    cipher: TenantCipher,
    *,
    bot_id: UUID,
    since: datetime,
    until: datetime,
    top: int = 10,
) -> dict[str, Any]:
    params = {"bot": bot_id, "since": since, "until": until, "sample": SAMPLE}
    totals = await (await conn.execute(_TOTALS, params)).fetchone()
    assert totals is not None
    answers = totals["answers"] or 0

    def share(n: int) -> float:
        return round(n / answers, 4) if answers else 0.0

    providers = await (await conn.execute(_PROVIDERS, params)).fetchall()
    questions = await (await conn.execute(_QUESTIONS, params)).fetchall()
    return {
        "from": since,
        "to": until,
        "conversations": totals["conversations"],
        "messages": totals["messages"],
        "answers": answers,
        "sources": {s: totals[s] for s in ("faq", "rag", "fallback", "cache")},
        "shares": {s: share(totals[s]) for s in ("faq", "rag", "fallback", "cache")},
        "latency_ms": {"p50": totals["latency_p50_ms"], "p95": totals["latency_p95_ms"]},
        "providers": [{**p, "cost_usd": float(p["cost_usd"] or 0)} for p in providers],
        "feedback": {"up": totals["feedback_up"], "down": totals["feedback_down"]},
        "top_questions": _count(cipher, questions, top),
    }


async def unanswered_questions(
    conn: Conn,
    cipher: TenantCipher,
    *,
    bot_id: UUID,
    since: datetime,
    until: datetime,
    top: int = 50,
) -> list[dict[str, Any]]:
    params = {"bot": bot_id, "since": since, "until": until, "sample": SAMPLE}
    rows = await (await conn.execute(_UNANSWERED, params)).fetchall()
    return _count(cipher, rows, top)
