"""Visitors' personal data stays out of the LLM call: the detectors on fixed text, then the
whole chat path through the real OpenAI SDK against the stand-in server, which records
every request it is sent."""

from __future__ import annotations

import json

import pytest

from shared.privacy.detectors import BotPattern, find_all
from shared.privacy.placeholders import Placeholders
from tests.chat_fixtures import ask, read_sse, set_bot

pytest_plugins = ["tests.chat_fixtures"]

EMAIL = "jana.kowalski@example.org"
PHONE = "+49 170 1234567"
IBAN = "DE89 3704 0044 0532 0130 00"
CARD = "4111 1111 1111 1111"
ORDER = "FW-10234"
QUESTION = (
    f"I am {EMAIL} (phone {PHONE}). My order #{ORDER} was paid by card {CARD} and I want the"
    f" refund to {IBAN}. Which items can't be returned?"
)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"write to {EMAIL} please", [("EMAIL", EMAIL)]),
        (f"call me on {PHONE} or 030/1234567", [("PHONE", PHONE), ("PHONE", "030/1234567")]),
        (f"IBAN {IBAN}", [("IBAN", IBAN)]),
        (f"card {CARD}", [("CARD", CARD)]),
        ("a mistyped card 4111 1111 1111 1112", [("CARD", "4111 1111 1111 1112")]),
        (f"where is order #{ORDER}?", [("ORDER", ORDER)]),
        ("Bestellnummer: 123456 ist nicht da", [("ORDER", "123456")]),
        ("customer number 5550001234", [("NUMBER", "5550001234")]),
        # what a shop's FAQ is full of, and is nobody's personal data
        ("Shipping costs €4.90, free over €50; 2–4 working days; open 9:00-18:00", []),
        ("We shipped it on 2026-12-01 and it weighs 12.5 kg; DE 10115 Berlin", []),
        ("an IBAN-shaped typo DE00 3704 0044 0532 0130 00", []),
        ("order 12 pairs of socks", []),
    ],
)
def test_the_detectors_find_personal_data_and_leave_the_rest(text, found):
    assert [(hit.kind, hit.value) for hit in find_all(text)] == found


def test_a_bot_pattern_adds_a_kind_and_one_that_backtracks_for_ever_is_skipped():
    codes = [BotPattern("CUSTOMER", r"KD-[A-Z]{4}")]
    assert [(h.kind, h.value) for h in find_all("my code is KD-WXYZ", codes)] == [
        ("CUSTOMER", "KD-WXYZ")
    ]
    runaway = [BotPattern("SLOW", r"(a+)+$")]
    assert find_all("a" * 40 + "!", runaway) == []  # timed out, not hung


def test_a_placeholder_cut_between_streamed_pieces_is_put_back_whole():
    hidden = Placeholders()
    sent = hidden.hide(f"mail {EMAIL}, card {CARD}, mail {EMAIL} again")
    assert sent == "mail [EMAIL_1], card [CARD_1], mail [EMAIL_1] again"
    revealer = hidden.revealing()
    pieces = ["Sent to [EM", "AIL_1", "]; card [CAR", "D_1] as you asked [1", "]. ["]
    shown = "".join(revealer.feed(p) for p in pieces) + revealer.finish()
    assert shown == f"Sent to {EMAIL}; card •••• 1111 as you asked [1]. ["
    assert hidden.kinds == {"EMAIL": 1, "CARD": 1}


def _everything_sent(fake) -> str:
    return json.dumps(fake.requests)


async def test_the_provider_never_sees_the_visitors_values_and_the_visitor_gets_them_back(
    chat_client, chat_runtime, shop, fake_openai, monkeypatch
):
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    monkeypatch.setattr(
        fake_openai,
        "answer",
        "We will refund [IBAN_1] for order [ORDER_1] paid with [CARD_1] and write to"
        " [EMAIL_1]; personalised items cannot be returned [1].",
    )
    response = await chat_client.post(
        "/v1/chat",
        json={"message": QUESTION},
        headers={**shop.headers(), "Accept": "text/event-stream"},
    )
    assert response.status_code == 200
    streamed, done = read_sse(response.text)

    sent = _everything_sent(fake_openai)
    for value in (EMAIL, PHONE, IBAN, CARD, ORDER, "1111 1111", "1234567"):
        assert value not in sent
    question = fake_openai.requests[-1]["messages"][-1]["content"]
    for placeholder in ("[EMAIL_1]", "[PHONE_1]", "[ORDER_1]", "[CARD_1]", "[IBAN_1]"):
        assert placeholder in question
    assert "[EMAIL_1]" in fake_openai.requests[-1]["messages"][0]["content"]  # the rule says so

    # the visitor sees their values, except the card: masked, never echoed
    for text in (streamed, done["answer"]):
        assert IBAN in text
        assert ORDER in text
        assert EMAIL in text
        assert "•••• 1111" in text
        assert CARD not in text
        assert "[" + "IBAN_1]" not in text
    assert done["why"]["personal_data_withheld"] == {
        "EMAIL": 1,
        "PHONE": 1,
        "ORDER": 1,
        "CARD": 1,
        "IBAN": 1,
    }

    # the stored, encrypted transcript keeps what the visitor wrote
    async with chat_runtime.db.connection() as conn:
        cipher = await chat_runtime.cipher(conn, shop.tenant_id)
        cur = await conn.execute(
            "SELECT role, content_enc FROM messages WHERE conversation_id = %s ORDER BY created_at",
            (done["conversation_id"],),
        )
        stored = [(r["role"], cipher.decrypt(r["content_enc"])) for r in await cur.fetchall()]
    assert stored[0] == ("user", QUESTION)
    assert stored[1][1] == done["answer"]

    # a follow-up: the history the provider is sent is withheld as well
    follow = await ask(
        chat_client,
        shop,
        "And which items can't be returned if they are personalised?",
        conversation_id=done["conversation_id"],
        visitor_id=done["visitor_id"],
        visitor_token=done["visitor_token"],
    )
    assert follow["source"] == "rag"
    history = json.dumps(fake_openai.requests[-1]["messages"][3:])
    assert "[EMAIL_1]" in history
    for value in (EMAIL, PHONE, IBAN, CARD, ORDER):
        assert value not in _everything_sent(fake_openai)


async def test_an_answer_holding_a_visitors_value_is_never_served_to_another(
    chat_client, chat_runtime, shop, fake_openai, monkeypatch
):
    # a bot's own kind, without digits (which the cache's own rules would already refuse)
    codes = [{"kind": "CUSTOMER", "pattern": r"KD-[A-Z]{4}"}]
    await set_bot(
        chat_runtime, shop.bot_id, llm_chain=["openai"], personal_data_patterns=json.dumps(codes)
    )
    monkeypatch.setattr(
        fake_openai, "answer", "Dear [CUSTOMER_1], personalised items cannot be returned [1]."
    )
    question = "My customer code is KD-WXYZ. Which items can't be returned?"
    first = await ask(chat_client, shop, question)
    assert first["answer"].startswith("Dear KD-WXYZ,")
    assert "KD-WXYZ" not in _everything_sent(fake_openai)
    monkeypatch.setattr(fake_openai, "answer", "Personalised items cannot be returned [1].")
    second = await ask(chat_client, shop, question)  # another visitor, the same words
    assert second["source"] == "rag"
    assert "Dear" not in second["answer"]
    assert len(fake_openai.requests) == 2  # generated again, not served from the cache


async def test_a_bot_on_its_own_endpoint_may_send_the_visitors_words_as_they_are(
    chat_client, chat_runtime, shop, fake_openai
):
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"], withhold_personal_data=False)
    body = await ask(chat_client, shop, QUESTION)
    assert body["source"] == "rag"
    assert EMAIL in fake_openai.requests[-1]["messages"][-1]["content"]
    assert "personal_data_withheld" not in body["why"]


async def test_the_offline_answer_needs_no_placeholders(chat_client, shop):
    body = await ask(chat_client, shop, QUESTION)  # the demo's default chain: extractive
    assert body["source"] == "rag"
    assert "personal_data_withheld" not in body["why"]
