"""The grey zone settled by the bot's LLM (``shared.chat.faq_check``): through the chat API
and the real openai SDK against the stand-in server, whose ``verdict`` is the check's reply."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from functions.admin.app import create_app as create_admin_app
from shared.cache import AnswerCache, Verdict
from shared.chat.faq_check import check_deadlines, parse, read_prompt
from shared.llm.base import Deadlines
from tests.chat_fixtures import ask, set_bot

# The demo shop's grey zone (docs/faq-matching.md): the shipping FAQ at 0.72, the closest
# passage at 0.36, so without an LLM the FAQ answers it.
CANADA = "Do you ship to Canada?"
SHIPPING_ANSWER = "We ship to all EU countries"


def entries(check: dict[str, Any]) -> tuple[str, list[str]]:
    """The message and the FAQ questions a check showed the LLM."""
    return read_prompt(check["messages"])


@pytest.fixture
async def llm_shop(chat_runtime, shop):
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    return shop


async def test_a_grey_zone_match_the_llm_confirms_is_answered_from_that_faq(
    chat_client, chat_runtime, llm_shop, fake_openai
):
    # GIVEN a bot with an LLM, which names the first FAQ shown
    fake_openai.verdict = "1"
    # WHEN a visitor asks a question in the grey zone
    body = await ask(chat_client, llm_shop, CANADA)
    # THEN the LLM was shown the question and the nearest FAQs, best first
    assert len(fake_openai.checks) == 1
    message, questions = entries(fake_openai.checks[0])
    assert message == CANADA
    assert questions[0] == "Which countries do you ship to?"
    assert 1 < len(questions) <= 3
    # and the FAQ answered, without a generated answer, saying why
    assert body["source"] == "faq"
    assert SHIPPING_ANSWER in body["answer"]
    assert fake_openai.requests == []
    assert body["why"]["rule"] == "faq_checked"
    assert body["why"]["checked_by"] == "openai"
    assert body["why"]["faq_confidence"] < body["why"]["threshold"]
    # and the check's tokens are in the bot's usage
    async with chat_runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT tokens_in, tokens_out FROM llm_usage_daily WHERE bot_id = %s",
            (llm_shop.bot_id,),
        )
        usage = await cur.fetchone()
    assert usage["tokens_in"] > 0
    # WHEN the same question comes again; THEN it is not checked again
    again = await ask(chat_client, llm_shop, CANADA)
    assert SHIPPING_ANSWER in again["answer"]
    assert len(fake_openai.checks) == 1


async def test_the_llm_may_name_another_of_the_faqs_shown(
    chat_client, chat_runtime, llm_shop, fake_openai
):
    fake_openai.verdict = "2"
    body = await ask(chat_client, llm_shop, CANADA)
    _, questions = entries(fake_openai.checks[0])
    assert body["source"] == "faq"
    assert body["why"]["rule"] == "faq_checked"
    async with chat_runtime.db.connection() as conn:
        cur = await conn.execute("SELECT question FROM faqs WHERE id = %s", (body["faq_id"],))
        row = await cur.fetchone()
    assert row["question"] == questions[1]


async def test_a_match_the_llm_rejects_goes_to_the_documents(chat_client, llm_shop, fake_openai):
    # GIVEN the LLM says none of the FAQs shown answers (the stand-in's default verdict)
    body = await ask(chat_client, llm_shop, CANADA)
    # THEN the documents answer, though the offline rule would have sent the FAQ
    assert len(fake_openai.checks) == 1
    assert body["source"] == "rag"
    assert len(fake_openai.requests) == 1
    assert body["why"]["rule"] == "documents"
    assert body["why"]["faq_check"] == "none"


async def test_a_follow_up_asked_again_uses_the_verdict_kept(chat_client, llm_shop, fake_openai):
    """A follow-up's generated answer is never shared, so only the kept verdict (none of the
    FAQs) saves checking it again."""
    for n in range(2):
        first = await ask(chat_client, llm_shop, f"Hello, a question about shipping ({n})")
        ids = {k: first[k] for k in ("conversation_id", "visitor_id", "visitor_token")}
        body = await ask(chat_client, llm_shop, CANADA, **ids)
        assert (body["source"], body["why"]["faq_check"]) == ("rag", "none")
    assert [entries(c)[0] for c in fake_openai.checks].count(CANADA) == 1
    assert body["why"]["checked_by"] == "answer_cache"


@pytest.mark.parametrize("failure", ["500", "hang", "no number"])
async def test_without_a_verdict_the_offline_rule_decides(
    chat_client, chat_runtime, llm_shop, fake_openai, failure
):
    # GIVEN a provider that fails, does not answer in time, or replies with no entry's number
    chat_runtime.deadlines = Deadlines(connect=1, first_token=1.0, total=5)
    if failure == "no number":
        fake_openai.verdict = "I am not sure."
    else:
        fake_openai.mode = failure
    body = await ask(chat_client, llm_shop, CANADA)
    # THEN the grey zone's offline rule answers as it does without an LLM
    assert len(fake_openai.checks) == 1
    assert body["source"] == "faq"
    assert body["why"]["rule"] == "faq_grey_zone"


async def test_no_check_without_an_llm_or_at_the_spending_cap(
    chat_client, chat_runtime, shop, fake_openai
):
    # GIVEN the deployment's default chain (extractive only)
    body = await ask(chat_client, shop, CANADA)
    assert body["why"]["rule"] == "faq_grey_zone"
    # GIVEN an LLM but a cap already reached
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"], monthly_spend_cap=0)
    body = await ask(chat_client, shop, f"{CANADA} Or to Mexico?")
    assert fake_openai.checks == []


async def test_an_owner_who_turns_checks_off_gets_the_offline_rule(
    chat_client, chat_runtime, llm_shop, fake_openai, make_client
):
    admin = make_client(create_admin_app(chat_runtime))
    off = await admin.patch(
        f"/v1/admin/bots/{llm_shop.bot_id}",
        json={"check_faq_matches": False},
        headers={"Authorization": f"Bearer {llm_shop.secret_key}"},
    )
    assert off.status_code == 200, off.text
    assert off.json()["check_faq_matches"] is False
    body = await ask(chat_client, llm_shop, CANADA)
    assert body["why"]["rule"] == "faq_grey_zone"
    assert fake_openai.checks == []


async def test_testing_a_question_says_when_the_llm_would_be_asked(
    chat_runtime, shop, fake_openai, make_client
):
    """The dashboard's "Test a question" asks no LLM, but says when a visitor's would be."""
    admin = make_client(create_admin_app(chat_runtime))
    secret = {"Authorization": f"Bearer {shop.secret_key}"}

    async def preview(question: str) -> dict[str, Any]:
        response = await admin.post(
            f"/v1/admin/bots/{shop.bot_id}/preview", json={"question": question}, headers=secret
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    assert (await preview(CANADA))["llm_check"] is False  # no LLM in the chain
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    grey = await preview(CANADA)
    assert (grey["decision"], grey["llm_check"]) == ("faq", True)
    assert (await preview("what does delivery cost?"))["llm_check"] is False  # above it
    assert fake_openai.checks == []


async def test_the_visitors_personal_data_is_withheld_from_the_check(
    chat_client, llm_shop, fake_openai
):
    await ask(chat_client, llm_shop, "Do you ship to Canada? Reply to jane@example.com")
    message, _ = entries(fake_openai.checks[0])
    assert "jane@example.com" not in message
    assert message.startswith("Do you ship to Canada? Reply to ")


def test_a_kept_verdict_is_erased_with_its_conversation(tmp_path):
    cache = AnswerCache(tmp_path)
    bot, conversation = uuid4(), uuid4()
    cache.put_verdict(bot, 1, CANADA, Verdict("faq-1"), conversation_id=conversation)
    assert cache.get_verdict(bot, 1, "do you ship to canada") == Verdict("faq-1")
    assert cache.get_verdict(bot, 2, CANADA) is None  # the FAQs changed since
    assert cache.forget_conversation(conversation) == 1
    assert cache.get_verdict(bot, 1, CANADA) is None
    cache.close()


def test_a_check_waits_for_the_provider_no_longer_than_its_own_deadline():
    answers = Deadlines(connect=3.0, first_token=15.0, total=60.0)
    assert check_deadlines(answers) == Deadlines(connect=3.0, first_token=5.0, total=5.0)
    shorter = Deadlines(connect=1.0, first_token=1.0, total=2.0)
    assert check_deadlines(shorter) == shorter


@pytest.mark.parametrize(
    ("reply", "number"),
    [("2", 2), ("0", 0), ("Entry 3.", 3), ("7", None), ("none", None), ("", None)],
)
def test_a_reply_names_an_entry_shown_or_none(reply, number):
    assert parse(reply, 3) == number


def test_a_check_prompt_reads_back_as_the_message_and_questions_shown():
    from shared.chat.faq_check import messages
    from shared.rag.faq_match import FaqCandidate

    shown = [
        FaqCandidate(uuid4(), "Which countries do you ship to?", "All EU.\nAnd Norway.", 0.7),
        FaqCandidate(uuid4(), "How much does shipping cost?", "€4.90.", 0.6),
    ]
    assert read_prompt(messages(CANADA, shown)) == (
        CANADA,
        ["Which countries do you ship to?", "How much does shipping cost?"],
    )
