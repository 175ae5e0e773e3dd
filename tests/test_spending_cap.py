"""A bot's monthly spending cap: a burst of visitors passes it by at most one answer, the
team is told once at 80%, and at the cap the bot answers extractively (offering a person)
until the owner raises it. Through the real OpenAI SDK against the stand-in server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from shared.llm.pricing import PriceTable
from shared.scheduler import run_job
from tests.chat_fixtures import ask, set_bot
from tests.test_handoff import Receiver
from tests.utils.servers import ThreadServer

pytest_plugins = ["tests.chat_fixtures"]

# A dear model, so that a few stand-in answers (321 tokens in, ~10 out) reach a cap in cents.
PRICE = (1000.0, 1000.0)


@pytest.fixture
def llm_settings(llm_settings):
    # and webhooks may reach loopback, where the test's receiver listens
    return llm_settings.model_copy(
        update={"llm_prices": {"gpt-4o-mini": PRICE}, "webhooks_private": True}
    )


def _answer_cost_usd(tokens_in: int, tokens_out: int) -> float:
    return PriceTable({"m": PRICE}).cost_usd("m", tokens_in, tokens_out)


async def _month(runtime, bot_id) -> tuple[float, int]:
    async with runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT coalesce(sum(cost_usd), 0)::float8 AS usd,"
            " (SELECT count(*) FROM spend_holds WHERE bot_id = %(b)s) AS holds"
            " FROM llm_usage_daily WHERE bot_id = %(b)s",
            {"b": bot_id},
        )
        row = await cur.fetchone()
    return row["usd"], row["holds"]


async def _alerts(runtime, bot_id) -> list[dict[str, Any]]:
    async with runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT channel, details FROM handoff_notifications"
            " WHERE bot_id = %s AND event = 'spend.alert'",
            (bot_id,),
        )
        rows: list[dict[str, Any]] = await cur.fetchall()
        return rows


async def test_a_burst_passes_the_cap_by_at_most_one_answer_then_the_bot_answers_offline(
    chat_client, chat_runtime, shop, fake_openai, monkeypatch
):
    await set_bot(
        chat_runtime,
        shop.bot_id,
        llm_chain=["openai"],
        currency="EUR",
        monthly_spend_cap=1.00,
        handoff_email="team@fernwood.example",
        rate_limit_per_minute=10_000,  # the burst is many visitors, not one
    )
    monkeypatch.setattr(fake_openai, "delay", 0.05)  # answers overlap in the burst
    cap_usd = 1.00 / chat_runtime.prices.rate("EUR")
    one_answer = _answer_cost_usd(321, 40)  # more than any stand-in answer costs
    answers = []
    for round_ in range(8):  # bursts of 12 visitors at once, until the cap is used
        questions = [f"Which items can't be returned? ({round_}.{n})" for n in range(12)]
        answers += await asyncio.gather(*(ask(chat_client, shop, q) for q in questions))
        spent_usd, holds = await _month(chat_runtime, shop.bot_id)
        assert spent_usd <= cap_usd + one_answer  # never past the cap by more than one answer
        assert holds == 0  # every hold was released
        if spent_usd >= cap_usd:
            break
    assert spent_usd >= cap_usd  # the cap was used
    generated = [b for b in answers if b["why"]["rule"] == "documents"]
    capped = [b for b in answers if b["why"]["rule"] == "spending_cap"]
    assert len(generated) == len(fake_openai.requests)
    assert len(generated) + len(capped) == len(answers)
    for body in capped:  # answered from the documents, offline
        assert body["source"] == "rag"
        assert "returned" in body["answer"].lower()

    # at the cap: no LLM call, until the owner raises it
    asked = len(fake_openai.requests)
    body = await ask(chat_client, shop, "Which items can't be returned? (after)")
    assert body["why"]["rule"] == "spending_cap"
    assert len(fake_openai.requests) == asked
    alerts = await _alerts(chat_runtime, shop.bot_id)
    assert [a["channel"] for a in alerts] == ["email"]  # once, to the team's address
    assert alerts[0]["details"]["currency"] == "EUR"
    assert alerts[0]["details"]["share"] >= 0.8

    await set_bot(chat_runtime, shop.bot_id, monthly_spend_cap=100.00)
    body = await ask(chat_client, shop, "Which items can't be returned? (raised)")
    assert body["why"]["rule"] == "documents"
    assert len(fake_openai.requests) == asked + 1
    assert len(await _alerts(chat_runtime, shop.bot_id)) == 1  # still one alert this month


async def test_no_cap_means_no_holds_and_a_zero_cap_never_calls_the_llm(
    chat_client, chat_runtime, shop, fake_openai
):
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    body = await ask(chat_client, shop, "Which items can't be returned?")
    assert body["why"]["rule"] == "documents"
    assert len(fake_openai.requests) == 1
    await set_bot(chat_runtime, shop.bot_id, monthly_spend_cap=0)
    body = await ask(chat_client, shop, "Which items can't be returned? (zero)")
    assert body["why"]["rule"] == "spending_cap"
    assert len(fake_openai.requests) == 1
    assert await _alerts(chat_runtime, shop.bot_id) == []  # no channel configured: nobody told


async def test_the_80_percent_alert_reaches_the_bots_webhook_once(chat_client, chat_runtime, shop):
    hook = Receiver()
    with ThreadServer(hook.app()) as server:
        await set_bot(
            chat_runtime,
            shop.bot_id,
            llm_chain=["openai"],
            monthly_spend_cap=1.00,
            handoff_webhook_url=server.url + "/hook",
        )
        for n in range(4):  # $0.33 each: past 80% of $1.16 at the third
            await ask(chat_client, shop, f"Which items can't be returned? ({n})")
            await run_job(chat_runtime, "notify")
    [(body, headers)] = hook.received
    event = json.loads(body)
    assert headers["parley-event"] == "spend.alert"
    assert event["type"] == "spend.alert"
    assert event["bot_id"] == str(shop.bot_id)
    assert (event["cap"], event["currency"]) == (1.0, "EUR")
    assert 0.8 <= event["share"] < 1.2
    assert event["spent"] == pytest.approx(event["share"] * 1.0, abs=0.01)
