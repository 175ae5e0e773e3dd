"""``parley bench faq --learn N``: what the offers with the handoff text teach a bot.

Before the test questions are asked, ``N`` of the data set's *training* questions come in
as visitors through ``POST /v1/chat``. A visitor handed over with the right FAQ among those
offered (``suggestions``) takes it, as the widget's button does (asks that FAQ's question in
the same conversation); one offered only wrong FAQs, or none, leaves. Then the owner works
through the knowledge gaps (``GET …/gaps``), as on the dashboard: the phrasings whose
visitors took an offered FAQ join that FAQ's other ways to ask (``PATCH …/faqs/{id}``,
within the API's limit), and every gap is dismissed once handled. Everything goes through
the API a shop uses; what is assumed is a visitor who recognises their question among at
most three, and an owner who accepts what the gaps page proposes.
"""

from __future__ import annotations

import asyncio
import csv
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from dashboard.phrasings import with_phrasings
from parley.bench.servers import ParleyServer
from shared.text import normalize_question

ROUND = 1000


@dataclass
class Learnt:
    asked: int = 0
    handed_over: int = 0
    offered_right: int = 0  # handed over with the right FAQ among those offered: taken
    gaps_seen: int = 0
    phrasings_added: int = 0
    added_to_their_intent: int = 0  # the phrasing's own intent's FAQ (the rest: a wrong one)
    left_out: int = 0  # did not fit the FAQ's other ways to ask (the API's limit)

    def print(self) -> None:
        print(
            f"\nLearning from {self.asked} training questions asked as visitors:"
            f" {self.handed_over} handed over, {self.offered_right} of them offered the right"
            f" FAQ and took it; the owner went through {self.gaps_seen} knowledge gaps and"
            f" added {self.phrasings_added} phrasings to the FAQ their visitors took"
            f" ({self.added_to_their_intent} to their own intent's, "
            f"{self.phrasings_added - self.added_to_their_intent} to another;"
            f" {self.left_out} did not fit)"
        )


def training_questions(dataset: Path, count: int, exclude: set[str]) -> list[tuple[str, str]]:
    """``count`` questions of ``train.csv`` (text, intent), a fixed random choice, none of
    them in ``exclude`` (the FAQs' own phrasings)."""
    with (dataset / "train.csv").open(encoding="utf-8", newline="") as handle:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(handle)]
    rows = [r for r in rows if r[0] not in exclude]
    random.Random(13).shuffle(rows)
    return rows[:count]


def learn(
    server: ParleyServer,
    visitor: dict[str, str],
    bot_id: str,
    mapping: dict[str, str],
    questions: list[tuple[str, str]],
) -> Learnt:
    """Visitors (``visitor``: their request headers) ask ``questions`` and take the right
    offer; then the owner adds what the knowledge gaps propose. ``mapping``: Parley FAQ id
    -> the data set's intent."""
    learnt = Learnt(asked=len(questions))
    intent_of = {normalize_question(text): intent for text, intent in questions}
    with httpx2.Client(base_url=server.url, timeout=600) as client:
        client.headers["Authorization"] = f"Bearer {server.login(client)}"
        # The owner looks at the gaps after every ROUND visitors (the gaps page reads the
        # period's latest 2,000 unanswered questions), and later visitors find what was added.
        for start in range(0, len(questions), ROUND):
            chunk = questions[start : start + ROUND]
            asyncio.run(_visitors(server, visitor, mapping, chunk, learnt))
            _owner(client, bot_id, mapping, intent_of, learnt)
    return learnt


async def _visitors(
    server: ParleyServer,
    headers: dict[str, str],
    mapping: dict[str, str],
    questions: list[tuple[str, str]],
    learnt: Learnt,
) -> None:
    async with httpx2.AsyncClient(base_url=server.url, timeout=60, headers=headers) as client:
        for text, intent in questions:
            body = await _chat(client, {"message": text})
            if body["source"] != "fallback":
                continue
            learnt.handed_over += 1
            right = [s for s in body["suggestions"] if mapping.get(s["faq_id"]) == intent]
            if not right:
                continue
            learnt.offered_right += 1
            await _chat(
                client,
                {
                    "message": right[0]["question"],
                    "conversation_id": body["conversation_id"],
                    "visitor_id": body["visitor_id"],
                    "visitor_token": body["visitor_token"],
                },
            )


async def _chat(client: httpx2.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/chat", json=body)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def _owner(
    client: httpx2.Client,
    bot_id: str,
    mapping: dict[str, str],
    intent_of: dict[str, str],
    learnt: Learnt,
) -> None:
    """Work through the knowledge gaps, a page at a time, until none is left."""
    path = f"/v1/admin/bots/{bot_id}"
    faqs: dict[str, dict[str, Any]] = {}
    offset: int | None = 0
    while offset is not None:
        listed = _send(client, "GET", f"{path}/faqs", params={"limit": 200, "offset": offset})
        faqs |= {faq["id"]: faq for faq in listed["items"]}
        offset = listed["next_offset"]
    while gaps := _send(client, "GET", f"{path}/gaps")["items"]:
        handled: list[str] = []
        for gap in gaps:
            learnt.gaps_seen += 1
            phrasings: list[str] = gap["phrasings"]
            handled += phrasings
            placed: set[str] = set()
            for took in gap["picked"]:  # each taken FAQ gets the phrasings that led to it
                faq_id, faq = took["faq_id"], faqs[took["faq_id"]]
                leading = [p for p in took["phrasings"] if p.casefold() not in placed]
                alternatives, left_out = with_phrasings(faq["alternatives"], leading)
                added = alternatives[len(faq["alternatives"]) :]
                learnt.left_out += left_out
                if added:
                    faqs[faq_id] = _send(
                        client,
                        "PATCH",
                        f"{path}/faqs/{faq_id}",
                        json={"alternatives": alternatives},
                    )
                placed |= {p.casefold() for p in added}
                learnt.phrasings_added += len(added)
                learnt.added_to_their_intent += sum(
                    intent_of.get(p) == mapping.get(faq_id) for p in added
                )
        for start in range(0, len(handled), 500):  # the dismissal's own limit
            chunk = handled[start : start + 500]
            _send(client, "POST", f"{path}/gaps/dismiss", json={"phrasings": chunk})


def _send(client: httpx2.Client, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    """One admin API call, waiting as told when over the API's rate limit."""
    while True:
        response = client.request(method, url, **kwargs)
        if response.status_code == 429:
            time.sleep(float(response.headers.get("retry-after", "1")))
            continue
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body
