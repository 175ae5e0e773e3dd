"""Knowledge gaps: what visitors asked that the bot did not answer (the handoff text) or
answered badly (a thumbs-down), grouped by meaning, most frequent first, each with the FAQs
its visitors took from those offered with the handoff text (``picked``: each FAQ, how often,
and which of the group's phrasings were followed by taking it, most taken first): where
those phrasings belong, for the owner to add them to it.

Questions are decrypted in memory only; a phrasing joins the first group (most frequent
first) holding a phrasing within the embedding model's ``same_gap`` cosine of it. A dismissed
gap is remembered by keyed hashes of its phrasings, never their text.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from uuid import UUID

import numpy as np

from shared.crypto import TenantCipher
from shared.db import analytics as rows
from shared.db.pool import Conn
from shared.embeddings.base import Embedder
from shared.text import normalize_question

SAMPLE = 2000
# On all-MiniLM-L6-v2, paraphrases of one question ("can I pay with PayPal" / "is PayPal
# accepted as a payment method": 0.77–0.86) score above this, other questions far below
# (0.0–0.2); picked on such pairs, not calibrated on a data set.


def question_hash(cipher: TenantCipher, question: str) -> bytes:
    return cipher.mac(f"gap:{normalize_question(question)}")


async def knowledge_gaps(
    conn: Conn,
    cipher: TenantCipher,
    embedder: Embedder,
    *,
    bot_id: UUID,
    since: datetime,
    until: datetime,
    top: int = 50,
) -> list[dict[str, Any]]:
    found = await rows.gaps(conn, rows.Period(bot_id, since, until, SAMPLE))
    hidden = await rows.dismissed(conn, bot_id=bot_id)
    counts: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = {}
    picks: dict[str, Counter[str]] = {}
    for row in found:
        text = normalize_question(cipher.try_decrypt(row["content_enc"]) or "")
        if not text or question_hash(cipher, text) in hidden:
            continue
        counts[text] += 1
        why = reasons.setdefault(text, Counter())
        why["not_answered" if row["fallback"] else "thumbs_down"] += 1
        if row["picked"] is not None:
            picks.setdefault(text, Counter())[str(row["picked"])] += 1
    if not counts:
        return []
    phrasings = [q for q, _ in counts.most_common()]
    vectors = np.asarray(await embedder.embed(phrasings), dtype=np.float32)
    groups: list[dict[str, Any]] = []
    members: list[list[int]] = []  # the phrasings (by index) of each group
    for i, phrasing in enumerate(phrasings):
        similar = [
            g
            for g, held in enumerate(members)
            if float(np.max(vectors[held] @ vectors[i])) >= embedder.calibration.same_gap
        ]
        if similar:
            group = groups[similar[0]]
            group["phrasings"].append(phrasing)
            members[similar[0]].append(i)
        else:
            group = {"question": phrasing, "phrasings": [phrasing], "count": 0}
            group["reasons"], group["picked"] = Counter(), {}
            groups.append(group)
            members.append([i])
        group["count"] += counts[phrasing]
        group["reasons"].update(reasons[phrasing])
        for faq_id, times in picks.get(phrasing, {}).items():
            took = group["picked"].setdefault(
                faq_id, {"faq_id": faq_id, "count": 0, "phrasings": []}
            )
            took["count"] += times
            took["phrasings"].append(phrasing)
    groups.sort(key=lambda g: -g["count"])
    return [
        {
            **g,
            "reasons": dict(g["reasons"]),
            "picked": sorted(g["picked"].values(), key=lambda took: -took["count"]),
        }
        for g in groups[:top]
    ]
