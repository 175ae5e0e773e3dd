"""Paraphrases of FAQ questions written by the bot's LLM (the ``paraphrase`` job): asked once
per question through the real openai SDK against the stand-in server, kept as generated
alternatives that match like the owner's, shown and removable in the admin API, counted in
the bot's usage, held to its spending cap, and left for the next run when the provider
fails."""

from __future__ import annotations

from typing import Any

import pytest

from functions.admin.app import create_app as create_admin_app
from shared.db import faqs
from shared.faq_paraphrase import paraphrase_pending, parse
from tests.chat_fixtures import ask, set_bot

SHIPPING = "Which countries do you ship to?"
# Wordings no phrasing of the demo's FAQs comes near
WRITTEN = [
    "Could a parcel of yours reach Toronto or Reykjavik?",
    "Is overseas delivery a thing for you?",
]


def paraphrasing(fake: Any) -> None:
    """The stand-in answers the shipping FAQ's prompt with a numbered list of wordings (one
    repeating the question), every other FAQ's with its own question (kept as none)."""

    def text_for(body: dict[str, Any]) -> str:
        asked = str(body["messages"][-1]["content"]).split("\n")[0].removeprefix("Question: ")
        if asked == SHIPPING:
            return "\n".join(f'{n}. "{t}"' for n, t in enumerate([*WRITTEN, SHIPPING], 1))
        return asked

    fake.text_for = text_for


async def faq_by_question(runtime, shop, question: str) -> dict[str, Any]:
    async with runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT id FROM faqs WHERE bot_id = %s AND question = %s", (shop.bot_id, question)
        )
        row = await cur.fetchone()
        assert row is not None
        return await faqs.get_faq(
            conn, tenant_id=shop.tenant_id, bot_id=shop.bot_id, faq_id=row["id"]
        )


@pytest.fixture
def llm_bot(chat_runtime, shop, fake_openai):
    paraphrasing(fake_openai)
    return shop


async def test_a_bots_llm_paraphrases_each_faq_once_and_the_paraphrases_match(
    chat_runtime, llm_bot, fake_openai, chat_client
):
    shop = llm_bot
    # GIVEN a question worded like no phrasing of the shipping FAQ
    before = await ask(chat_client, shop, WRITTEN[0])
    assert before["source"] != "faq"
    # WHEN the bot's chain has an LLM and the job runs
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    counts = await paraphrase_pending(chat_runtime)
    # THEN every FAQ was paraphrased once, through the bot's LLM
    async with chat_runtime.db.connection() as conn:
        total = await faqs.count_faqs(conn, tenant_id=shop.tenant_id, bot_id=shop.bot_id)
    assert counts["paraphrased"] == total == len(fake_openai.requests)
    shipping = await faq_by_question(chat_runtime, shop, SHIPPING)
    assert shipping["generated_alternatives"] == WRITTEN  # list marks, quotes, the question gone
    other = await faq_by_question(chat_runtime, shop, "How long do I have to return an item?")
    assert other["generated_alternatives"] == []  # asked, nothing new came back
    # and the question now finds the shipping FAQ (the cache was invalidated by the KB bump)
    after = await ask(chat_client, shop, WRITTEN[0])
    assert (after["source"], after.get("faq_id")) == ("faq", str(shipping["id"]))
    # and it is counted in the bot's usage, like an answer's tokens
    async with chat_runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT provider, tokens_in FROM llm_usage_daily WHERE bot_id = %s", (shop.bot_id,)
        )
        usage = await cur.fetchall()
    assert [row["provider"] for row in usage] == ["openai"]
    assert usage[0]["tokens_in"] > 0
    # WHEN the job runs again; THEN nothing is asked twice
    again = await paraphrase_pending(chat_runtime)
    assert again["paraphrased"] == 0
    assert len(fake_openai.requests) == total


async def test_without_an_llm_in_the_bots_chain_nothing_is_asked(
    chat_runtime, llm_bot, fake_openai
):
    # GIVEN the deployment's default chain (extractive only) and a bot without its own
    counts = await paraphrase_pending(chat_runtime)
    assert counts["paraphrased"] == 0
    assert fake_openai.requests == []
    shipping = await faq_by_question(chat_runtime, llm_bot, SHIPPING)
    assert shipping["generated_alternatives"] is None


async def test_a_bot_whose_owner_turned_paraphrasing_off_is_asked_nothing(
    chat_runtime, llm_bot, fake_openai, make_client
):
    # GIVEN a bot with an LLM whose owner turns paraphrasing off in the admin API
    await set_bot(chat_runtime, llm_bot.bot_id, llm_chain=["openai"])
    admin = make_client(create_admin_app(chat_runtime))
    secret = {"Authorization": f"Bearer {llm_bot.secret_key}"}
    off = await admin.patch(
        f"/v1/admin/bots/{llm_bot.bot_id}", json={"paraphrase_faqs": False}, headers=secret
    )
    assert off.status_code == 200, off.text
    assert off.json()["paraphrase_faqs"] is False
    # WHEN the job runs; THEN nothing is asked
    assert (await paraphrase_pending(chat_runtime))["paraphrased"] == 0
    assert fake_openai.requests == []


async def test_a_failing_provider_leaves_the_faqs_for_the_next_run(
    chat_runtime, llm_bot, fake_openai
):
    await set_bot(chat_runtime, llm_bot.bot_id, llm_chain=["openai"])
    fake_openai.mode = "500"
    counts = await paraphrase_pending(chat_runtime)
    assert counts["failed"] == 1  # the run stops at the first failure
    assert counts["paraphrased"] == 0
    assert (await faq_by_question(chat_runtime, llm_bot, SHIPPING))[
        "generated_alternatives"
    ] is None
    chat_runtime.get_chain().breaker.record_success("openai")  # the provider is back
    fake_openai.mode = "ok"
    assert (await paraphrase_pending(chat_runtime))["paraphrased"] > 0
    assert (await faq_by_question(chat_runtime, llm_bot, SHIPPING))[
        "generated_alternatives"
    ] == WRITTEN


async def test_a_bot_at_its_spending_cap_asks_nothing(chat_runtime, llm_bot, fake_openai):
    await set_bot(chat_runtime, llm_bot.bot_id, llm_chain=["openai"], monthly_spend_cap=0)
    counts = await paraphrase_pending(chat_runtime)
    assert counts["capped"] > 0
    assert counts["paraphrased"] == 0
    assert fake_openai.requests == []


async def test_the_owner_sees_removes_and_renews_paraphrases_in_the_admin_api(
    chat_runtime, llm_bot, fake_openai, make_client
):
    shop = llm_bot
    # (a bot with a cap it is far from: each paraphrase is held, then its hold released)
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"], monthly_spend_cap=100)
    await paraphrase_pending(chat_runtime)
    async with chat_runtime.db.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM spend_holds")
        assert (await cur.fetchone())["n"] == 0
    admin = make_client(create_admin_app(chat_runtime))
    secret = {"Authorization": f"Bearer {shop.secret_key}"}
    shipping = await faq_by_question(chat_runtime, shop, SHIPPING)
    url = f"/v1/admin/bots/{shop.bot_id}/faqs/{shipping['id']}"
    shown = await admin.get(f"/v1/admin/bots/{shop.bot_id}/faqs?q=Toronto", headers=secret)
    assert shown.status_code == 200
    assert [f["generated_alternatives"] for f in shown.json()["items"]] == [WRITTEN]
    # WHEN the owner removes one; THEN it no longer matches, and the job does not bring it back
    kept = await admin.patch(url, json={"generated_alternatives": WRITTEN[1:]}, headers=secret)
    assert kept.status_code == 200, kept.text
    assert kept.json()["generated_alternatives"] == WRITTEN[1:]
    async with chat_runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT text FROM faq_phrasings WHERE faq_id = %s", (shipping["id"],)
        )
        texts = [row["text"] for row in await cur.fetchall()]
    assert WRITTEN[0] not in texts
    assert WRITTEN[1] in texts
    asked = len(fake_openai.requests)
    await paraphrase_pending(chat_runtime)
    assert len(fake_openai.requests) == asked
    # WHEN the owner rewords the question; THEN its paraphrases are written anew
    reworded = await admin.patch(url, json={"question": "Where do you deliver?"}, headers=secret)
    assert reworded.json()["generated_alternatives"] is None
    fake_openai.text_for = lambda body: "Do you deliver to Iceland?"
    assert (await paraphrase_pending(chat_runtime))["paraphrased"] == 1
    again = await admin.get(f"/v1/admin/bots/{shop.bot_id}/faqs?q=Iceland", headers=secret)
    assert [f["generated_alternatives"] for f in again.json()["items"]] == [
        ["Do you deliver to Iceland?"]
    ]


async def test_a_faq_file_uploaded_again_keeps_the_paraphrases_its_owner_left(
    chat_runtime, llm_bot, fake_openai, make_client, tmp_path
):
    from shared.storage.local import LocalStorage

    shop = llm_bot
    chat_runtime.storage = LocalStorage(tmp_path / "files")
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    admin = make_client(create_admin_app(chat_runtime))
    secret = {"Authorization": f"Bearer {shop.secret_key}"}

    async def upload(answer: str, alternatives: str) -> None:
        body = f"question,answer,alternatives\n{SHIPPING} (file),{answer},{alternatives}\n"
        uploaded = await admin.post(
            f"/v1/admin/bots/{shop.bot_id}/documents",
            params={"filename": "shipping.faq.csv"},
            content=body.encode(),
            headers=secret,
        )
        assert uploaded.status_code == 201, uploaded.text

    # GIVEN a FAQ file whose question the bot's LLM paraphrased, and the owner's removal
    fake_openai.text_for = lambda body: "\n".join(WRITTEN)
    await upload("To the EU.", "")
    await paraphrase_pending(chat_runtime)
    faq = await faq_by_question(chat_runtime, shop, f"{SHIPPING} (file)")
    assert faq["generated_alternatives"] == WRITTEN
    removed = await admin.patch(
        f"/v1/admin/bots/{shop.bot_id}/faqs/{faq['id']}",
        json={"generated_alternatives": WRITTEN[1:]},
        headers=secret,
    )
    assert removed.status_code == 200, removed.text
    asked = len(fake_openai.requests)
    # WHEN the file is uploaded again with another answer, and one paraphrase now the owner's
    await upload("To the EU and Switzerland.", WRITTEN[1])
    # THEN the FAQ keeps what the owner left, less what is now their own; nothing is asked
    again = await faq_by_question(chat_runtime, shop, f"{SHIPPING} (file)")
    assert again["answer"] == "To the EU and Switzerland."
    assert again["alternatives"] == [WRITTEN[1]]
    assert again["generated_alternatives"] == []
    await paraphrase_pending(chat_runtime)
    assert len(fake_openai.requests) == asked


def test_a_reply_becomes_distinct_paraphrases_of_sensible_length():
    reply = "\n".join(
        [
            "1. Do you ship to Canada?",
            "- do you ship to canada",  # the same, but for case and punctuation
            "* “Can I order from Oslo?”",
            "",
            "x" * 201,  # longer than an alternative may be
            "Which countries do you ship to?",  # the FAQ's own question
            "2) Is Japan on your list?",
            "Do you post to Peru?",
        ]
    )
    have = ["Which countries do you ship to?"]
    assert parse(reply, have, 3) == [
        "Do you ship to Canada?",
        "Can I order from Oslo?",
        "Is Japan on your list?",
    ]
