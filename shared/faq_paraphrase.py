"""Paraphrases of each FAQ's question, written by the bot's LLM once and matched like the
owner's alternatives (``faqs.generated_alternatives``).

More phrasings per FAQ are what lifts FAQ matching most (docs/faq-matching.md: BANKING77's
right-FAQ rate 43% -> 59% with ten real wordings more per FAQ). When a bot's provider chain
has a remote LLM, the ``paraphrase`` job asks it for up to :data:`PARAPHRASES` ways a customer
might ask each enabled FAQ not paraphrased yet (a new one, or one whose question changed), and
keeps them: shown and removable in the admin API, never written twice for the same question
in a tenant (another FAQ's are reused), counted in the bot's usage and held against its
monthly spending cap like an answer. Only the owner's FAQ text is sent, never a visitor's.
A provider that fails leaves the FAQ for the next run.
"""

from __future__ import annotations

import re
from typing import Any

from shared.chat import spending
from shared.db import bots, faqs
from shared.faq_import import MAX_ALTERNATIVES
from shared.logging import get_logger
from shared.rag.index import embed_pending
from shared.runtime import Runtime
from shared.text import normalize_question

log = get_logger("parley.paraphrase")

PARAPHRASES = 10
# A customer's question, however worded, is far shorter; a longer line is not one.
MAX_CHARS = 200
MAX_TOKENS = 600
BATCH = 50

PROMPT = """You help a business's support bot recognise its customers' questions.
Write {n} different ways a customer might ask the question below: varied wording, length and
tone, as typed into a chat box, in the question's own language. One per line, nothing else:
no numbering, no quotes, no answers. The answer is given only so you keep to its meaning."""

_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


def messages(question: str, answer: str, n: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": PROMPT.format(n=n)},
        {"role": "user", "content": f"Question: {question}\nAnswer: {answer[:1000]}"},
    ]


def parse(reply: str, have: list[str], n: int) -> list[str]:
    """The reply's lines as paraphrases: list marks and quotes dropped, none longer than
    :data:`MAX_CHARS`, none the same as a phrasing the FAQ has or another line, at most n."""
    seen = {normalize_question(text) for text in have}
    out: list[str] = []
    for line in reply.splitlines():
        text = _LIST_MARK.sub("", line).strip().strip("\"'“”„").strip()
        key = normalize_question(text)
        if not text or len(text) > MAX_CHARS or key in seen:
            continue
        seen.add(key)
        out.append(text)
        if len(out) == n:
            break
    return out


async def paraphrase_pending(runtime: Runtime, *, limit: int = BATCH) -> dict[str, int]:
    """Paraphrase up to ``limit`` FAQs that have none yet; counts of what happened."""
    chain = runtime.get_chain()
    remote = chain.providers.remote_names()
    counts = {"paraphrased": 0, "reused": 0, "failed": 0, "capped": 0}
    if not remote:  # no LLM configured: nothing to ask
        return counts
    default_remote = bool(chain.remote(chain.default_chain))
    async with runtime.db.connection() as conn:
        todo = await faqs.unparaphrased(
            conn,
            remote=remote,
            default_remote=default_remote,
            most=MAX_ALTERNATIVES,
            limit=limit,
        )
        bot_rows = {
            bot_id: await bots.get_bot(conn, scope=None, bot_id=bot_id)
            for bot_id in {faq["bot_id"] for faq in todo}
        }
    for faq in todo:
        outcome = await _paraphrase(runtime, bot_rows[faq["bot_id"]], faq)
        counts[outcome] += 1
        if outcome == "failed":
            break  # the providers are down: the next run tries again
    return counts


async def _paraphrase(runtime: Runtime, bot: dict[str, Any], faq: dict[str, Any]) -> str:
    """One FAQ: its paraphrases reused or asked for, and kept. No connection is held while
    the LLM writes."""
    room = min(PARAPHRASES, MAX_ALTERNATIVES - len(faq["alternatives"]))
    have = [faq["question"], *faq["alternatives"]]
    if faq["known"] is not None:
        return await _keep(runtime, bot, faq, parse("\n".join(faq["known"]), have, room), "reused")
    chain = runtime.get_chain()
    names = chain.remote(chain.names(bot["llm_chain"], over_budget=False))
    prompt = messages(faq["question"], faq["answer"], room)
    async with runtime.db.lease() as lease:
        costed = await spending.ask_within_cap(
            chain, lease, bot, prompt, names=names, max_tokens=MAX_TOKENS
        )
    asked = costed.asked
    if asked is None:
        if costed.capped:
            return "capped"
        log.warning("paraphrasing a FAQ failed", faq_id=str(faq["id"]))
        return "failed"
    log.info(
        "paraphrased a FAQ",
        faq_id=str(faq["id"]),
        provider=asked.provider,
        tokens_in=asked.usage.tokens_in,
        tokens_out=asked.usage.tokens_out,
        cost_usd=round(asked.cost_usd, 6),
    )
    return await _keep(runtime, bot, faq, parse(asked.text, have, room), "paraphrased")


async def _keep(
    runtime: Runtime, bot: dict[str, Any], faq: dict[str, Any], texts: list[str], outcome: str
) -> str:
    async with runtime.db.connection() as conn, conn.transaction():
        stored = await faqs.store_paraphrases(
            conn, faq_id=faq["id"], question=faq["question"], texts=texts
        )
        if stored is not None:  # else the owner changed it meanwhile: the next run sees that
            await embed_pending(conn, runtime.embedder_for(bot), bot_id=bot["id"])
            await bots.bump_kb_version(conn, tenant_id=bot["tenant_id"], bot_id=bot["id"])
    return outcome
