"""Per-bot analytics for a period: volumes, answer sources, latency, cost, feedback,
top questions and unanswered questions (decrypted in memory, never stored in clear)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.crypto import DecryptionError, TenantCipher
from shared.db import analytics as rows
from shared.db.pool import Conn
from shared.text import normalize_question

SAMPLE = 5000


def _count(cipher: TenantCipher, encrypted: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    counter: Counter[str] = Counter()
    for row in encrypted:
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
    period = rows.Period(bot_id, since, until, SAMPLE)
    totals = await rows.totals(conn, period)
    answers = totals["answers"] or 0

    def share(n: int) -> float:
        return round(n / answers, 4) if answers else 0.0

    providers = await rows.providers(conn, period)
    questions = await rows.questions(conn, period)
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
        "offers": await rows.offers(conn, period),
        "top_questions": _count(cipher, questions, top),
        "daily": [
            {**d, "day": d["day"].isoformat(), "cost_usd": float(d["cost_usd"])}
            for d in await rows.daily(conn, period)
        ],
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
    period = rows.Period(bot_id, since, until, SAMPLE)
    return _count(cipher, await rows.unanswered(conn, period), top)
