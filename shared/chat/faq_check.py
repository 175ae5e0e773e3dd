"""The grey zone, settled by the bot's LLM: does one of the FAQs nearest a question answer it?

A FAQ match between the calibration's ``grey_floor`` and the bot's threshold is too unsure to
send as it is, yet often right (on BANKING77, three in five such matches; see
docs/faq-matching.md). When the bot's provider chain has a remote LLM, the chat path shows it
the question and the :data:`CANDIDATES` best FAQs (question and the start of the answer) and
asks for the number of the one that answers it, or 0: one short call (a few hundred tokens
in, one out) instead of a generated answer. A FAQ it names answers; "none" sends the question
on to the documents. Without an LLM, with the bot's ``check_faq_matches`` off, at the
spending cap or over the daily budget, or when the providers fail or reply with no number,
the offline rule decides as before (``shared.rag.faq_match.grey_zone_pick``).

Costed: the call's tokens go into the bot's daily usage and its worst cost is held against the
monthly cap first. Cached: the verdict is kept with the answer cache (per knowledge-base
version, under the question's hash, dropped with the conversation on erasure), so a question
asked again is not checked again. The visitor's personal data is withheld from the provider
as it is for answers. Each verdict is counted in ``parley_faq_checks_total``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from shared import metrics
from shared.cache import AnswerCache, Verdict
from shared.chat import spending
from shared.db.pool import Lease
from shared.llm.base import Deadlines
from shared.llm.chain import ProviderChain
from shared.logging import get_logger
from shared.privacy.detectors import BotPattern
from shared.privacy.placeholders import Placeholders
from shared.rag.faq_match import FaqCandidate, FaqMatch

log = get_logger("parley.chat")

CANDIDATES = 3
ANSWER_CHARS = 300  # of each candidate's answer: enough to tell what it covers
MAX_TOKENS = 4
# A check is worth a short wait only: a provider slower than this leaves the offline rule to
# decide, rather than keep the visitor waiting for it and then for the answer as well.
CHECK_SECONDS = 5.0

PROMPT = """You route a customer's message to a business's FAQ. Below are the message and \
numbered FAQ entries. Reply with the number of the entry whose answer answers the message, \
or 0 if none of them does. Reply with the number only."""

_NUMBER = re.compile(r"\d+")
_ENTRY = re.compile(r"^\d+\. Q: (.*)$", flags=re.M)


@dataclass(frozen=True)
class Checked:
    """The LLM's verdict on a grey-zone match."""

    faq: FaqCandidate | None  # the FAQ that answers the question; None: none of them does
    provider: str | None  # who said so; None: the verdict came from the cache


def messages(question: str, candidates: list[FaqCandidate]) -> list[dict[str, str]]:
    entries = "\n".join(
        f"{n}. Q: {c.question}\n   A: {' '.join(c.answer.split())[:ANSWER_CHARS]}"
        for n, c in enumerate(candidates, start=1)
    )
    return [
        {"role": "system", "content": PROMPT},
        {"role": "user", "content": f"Message: {question}\n\nFAQ entries:\n{entries}"},
    ]


def read_prompt(prompt: list[dict[str, str]]) -> tuple[str, list[str]]:
    """What :func:`messages` showed: the message and the FAQ questions, in order (for a
    stand-in judge reading a check)."""
    shown = prompt[-1]["content"]
    message = shown.split("\n")[0].removeprefix("Message: ")
    return message, _ENTRY.findall(shown)


def parse(reply: str, shown: int) -> int | None:
    """The entry the reply names (1 to ``shown``; 0: none of them), or None when it names
    none of those (no verdict)."""
    found = _NUMBER.search(reply)
    number = int(found.group(0)) if found else -1
    return number if 0 <= number <= shown else None


def check_deadlines(answers: Deadlines) -> Deadlines:
    """The chain's deadlines for answers, shortened to :data:`CHECK_SECONDS`."""
    return replace(
        answers,
        first_token=min(answers.first_token, CHECK_SECONDS),
        total=min(answers.total, CHECK_SECONDS),
    )


def in_grey_zone(match: FaqMatch, threshold: float, floor: float) -> bool:
    return match.best is not None and floor <= match.confidence < threshold


async def check(
    *,
    chain: ProviderChain,
    cache: AnswerCache,
    lease: Lease,
    bot: dict[str, Any],
    question: str,
    match: FaqMatch,
    names: list[str],
    withhold: list[BotPattern] | None,
) -> Checked | None:
    """The verdict on ``match`` (already known to be in the grey zone), or None when there
    is none to be had: no remote provider in ``names``, the cap reached, the providers
    failing or replying with no number. Gives ``lease``'s connection back while asking."""
    remote = chain.remote(names)
    if not remote:
        return None
    candidates = match.candidates[:CANDIDATES]
    cached = cache.get_verdict(bot["id"], bot["kb_version"], question)
    if cached is not None:
        picked = next((c for c in candidates if str(c.faq_id) == cached.faq_id), None)
        if cached.faq_id is None or picked is not None:
            metrics.FAQ_CHECKS.labels("kept").inc()
            return Checked(picked, None)
    hidden = Placeholders(withhold).hide(question) if withhold is not None else question
    costed = await spending.ask_within_cap(
        chain,
        lease,
        bot,
        messages(hidden, candidates),
        names=remote,
        max_tokens=MAX_TOKENS,
        deadlines=check_deadlines(chain.deadlines),
    )
    asked = costed.asked
    if asked is None:
        if not costed.capped:
            metrics.FAQ_CHECKS.labels("failed").inc()
        return None
    number = parse(asked.text, len(candidates))
    if number is None:
        log.warning("a FAQ check's reply named no entry", provider=asked.provider)
        metrics.FAQ_CHECKS.labels("unclear").inc()
        return None
    metrics.FAQ_CHECKS.labels("faq" if number else "none").inc()
    picked = candidates[number - 1] if number else None
    return Checked(picked, asked.provider)


def remember(
    cache: AnswerCache, bot: dict[str, Any], question: str, checked: Checked, conversation_id: UUID
) -> None:
    """Keep a fresh verdict for the next time the question is asked (erased with the
    conversation it came from)."""
    if checked.provider is None:
        return
    faq_id = str(checked.faq.faq_id) if checked.faq is not None else None
    cache.put_verdict(
        bot["id"], bot["kb_version"], question, Verdict(faq_id), conversation_id=conversation_id
    )
