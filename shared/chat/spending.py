"""A bot's monthly spending cap, in its currency: whether the next answer may call an LLM,
and what its real cost changes.

Before a remote provider is called, the most the answer can cost is held against the cap
(``shared.db.spend``); once the cap is reached the bot answers extractively and offers the
handoff until the month turns or the owner raises the cap. Holds are taken one at a time per
bot, so a burst from many visitors passes the cap by at most one answer. At 80% the bot's
team is told once a month (its handoff webhook and/or e-mail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.db import spend
from shared.db.pool import Conn, Lease
from shared.llm.base import Deadlines
from shared.llm.chain import AllProvidersFailedError, Asked, ProviderChain
from shared.llm.pricing import PriceTable
from shared.logging import get_logger

log = get_logger("parley.spend")

ALERT_SHARE = 0.8


@dataclass(frozen=True)
class Cap:
    amount: float
    currency: str
    usd: float  # the cap in US dollars, the unit costs are kept in


def cap_of(bot: dict[str, Any], prices: PriceTable) -> Cap | None:
    amount = bot.get("monthly_spend_cap")
    if amount is None:
        return None
    currency = str(bot.get("currency") or "EUR")
    return Cap(float(amount), currency, float(amount) / prices.rate(currency))


@dataclass(frozen=True)
class Admission:
    hold_id: UUID | None
    spent_usd: float
    cap: Cap

    @property
    def capped(self) -> bool:
        return self.hold_id is None


async def month_spending(conn: Conn, bot: dict[str, Any], prices: PriceTable) -> dict[str, Any]:
    """This calendar month's spending (UTC) in the bot's currency, and its cap."""
    currency = str(bot.get("currency") or "EUR")
    spent_usd = await spend.month_spent_usd(conn, bot_id=bot["id"])
    spent = round(spent_usd * prices.rate(currency), 2)
    cap = cap_of(bot, prices)
    return {
        "currency": currency,
        "spent": spent,
        "cap": cap.amount if cap else None,
        "share": round(spent_usd / cap.usd, 4) if cap and cap.usd else None,
        "capped": cap is not None and spent_usd >= cap.usd,
    }


async def admit(conn: Conn, *, bot_id: UUID, worst_usd: float, cap: Cap) -> Admission:
    held = await spend.hold(conn, bot_id=bot_id, cost_usd=worst_usd, cap_usd=cap.usd)
    admission = Admission(held.id, held.spent_usd, cap)
    if admission.capped:
        # the cap, or answers being written that may reach it: this one goes without an LLM
        log.warning("monthly spending cap reached; answering extractively", bot_id=str(bot_id))
        await _alert_past_share(conn, bot_id, admission, held.spent_usd)
    return admission


async def settle(conn: Conn, *, bot_id: UUID, admission: Admission, cost_usd: float) -> None:
    """The answer's cost is stored: release its hold; alert once past 80% of the cap."""
    if admission.hold_id is not None:
        await spend.release(conn, bot_id=bot_id, hold_id=admission.hold_id)
    await _alert_past_share(conn, bot_id, admission, admission.spent_usd + cost_usd)


async def _alert_past_share(
    conn: Conn, bot_id: UUID, admission: Admission, spent_usd: float
) -> None:
    """Tell the bot's team, once this month, when spending has passed 80% of the cap."""
    cap = admission.cap
    if spent_usd < ALERT_SHARE * cap.usd:
        return
    details = {
        "cap": cap.amount,
        "currency": cap.currency,
        "spent": round(spent_usd / cap.usd * cap.amount, 2) if cap.usd else 0.0,
        "share": round(spent_usd / cap.usd, 3) if cap.usd else 1.0,
    }
    queued, channels = await spend.alert_once(conn, bot_id=bot_id, details=details)
    if queued:
        log.warning(
            "bot passed 80% of its monthly spending cap",
            bot_id=str(bot_id),
            share=details["share"],
            channels=channels,
        )


@dataclass(frozen=True)
class Costed:
    """A prompt of Parley's own, asked within the bot's cap."""

    asked: Asked | None  # None: not asked (``capped``), or every provider failed
    capped: bool = False


async def ask_within_cap(
    chain: ProviderChain,
    lease: Lease,
    bot: dict[str, Any],
    messages: Sequence[dict[str, str]],
    *,
    names: Sequence[str],
    max_tokens: int,
    deadlines: Deadlines | None = None,
) -> Costed:
    """Ask the bot's remote providers ``names`` a prompt of Parley's own (a FAQ's
    paraphrases, a grey-zone check): its worst cost held against the bot's monthly cap first,
    its tokens counted in the bot's day's usage after. ``lease``'s connection is given back
    while the LLM writes."""
    admission = None
    cap = cap_of(bot, chain.prices)
    if cap is not None:
        worst = chain.worst_prompt_cost_usd(
            messages, max_tokens, names=names, first_model=bot["llm_model"]
        )
        admission = await admit(await lease.conn(), bot_id=bot["id"], worst_usd=worst, cap=cap)
    await lease.release()
    if admission is not None and admission.capped:
        return Costed(None, capped=True)
    try:
        asked: Asked | None = await chain.ask(
            messages,
            names=names,
            first_model=bot["llm_model"],
            max_tokens=max_tokens,
            deadlines=deadlines,
        )
    except AllProvidersFailedError as failed:
        log.warning("an llm prompt of parley's own failed", errors=len(failed.errors))
        asked = None
    if asked is not None:
        await spend.add_usage(
            await lease.conn(),
            bot_id=bot["id"],
            provider=asked.provider,
            tokens=(asked.usage.tokens_in, asked.usage.tokens_out),
            cost_usd=asked.cost_usd,
        )
    if admission is not None:
        cost = asked.cost_usd if asked is not None else 0.0
        await settle(await lease.conn(), bot_id=bot["id"], admission=admission, cost_usd=cost)
    return Costed(asked)
