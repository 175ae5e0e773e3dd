"""The answer cache never hands one visitor's words to another (hardening item 1).

The stand-in model repeats the visitor's question in its answer, as real models often do;
a second visitor asking the same or a near-identical question must then get an answer of
their own, while answers with nothing of the asker in them are still shared."""

from __future__ import annotations

from typing import Any

import pytest

from shared.chat.sharing import shareable
from tests.chat_fixtures import ask, set_bot


@pytest.fixture
async def echoing(chat_runtime, shop, fake_openai):
    fake_openai.echo = True
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    return fake_openai


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # a name the visitor typed, repeated by the model
        (
            "This is Jonas Weberknecht, can personalised products be returned?",
            "this is jonas weberknecht, can personalised products be returned",
        ),
        # an order reference
        ("Can order FW-88213 still be returned?", "Can order FW-88213 still be returned?"),
        # an e-mail address, asked again in other words (the meaning layer)
        (
            "Please send the returns label to jonas@example.org, which items can't be returned?",
            "Please send the return label to jonas@example.org: which items can't be returned?",
        ),
    ],
)
async def test_an_answer_echoing_the_visitor_is_never_served_to_another(
    chat_client, shop, echoing, first, second
):
    a = await ask(chat_client, shop, first)
    assert a["source"] == "rag"
    assert first.split()[2].strip(",?") in a["answer"]  # the model did repeat it
    b = await ask(chat_client, shop, second)  # a new visitor
    assert b["source"] == "rag"
    assert b["visitor_id"] != a["visitor_id"]
    assert len(echoing.requests) == 2  # generated again, not taken from the cache


async def test_an_answer_with_nothing_of_the_asker_is_still_shared(chat_client, shop, echoing):
    # every word the model repeats is in the sources or a common word
    a = await ask(chat_client, shop, "Which items can't be returned?")
    b = await ask(chat_client, shop, "which items can't be returned")
    assert (a["source"], b["source"]) == ("rag", "cache")
    assert len(echoing.requests) == 1


async def test_a_follow_up_is_never_shared(chat_client, shop, echoing):
    first = await ask(chat_client, shop, "How long does delivery take?")
    ids = {k: first[k] for k in ("conversation_id", "visitor_id", "visitor_token")}
    follow = await ask(chat_client, shop, "Which items can't be returned?", **ids)
    assert follow["source"] == "rag"
    other = await ask(chat_client, shop, "Which items can't be returned?")
    assert other["source"] == "rag"  # the follow-up's answer was not cached


def test_sharing_rules():
    sources = ["Personalised products cannot be returned. Returns within 30 days."]
    common: dict[str, Any] = {"source": "rag", "sources": sources, "first_turn": True}
    assert shareable(source="faq", question="I am Jonas", answer="x", sources=[], first_turn=False)
    assert shareable(
        question="Can personalised products be returned?",
        answer="Personalised products cannot be returned [1].",
        **common,
    )
    assert not shareable(
        question="I'm Jonas: can products be returned?",
        answer="Jonas, products cannot be returned [1].",
        **common,
    )
    assert not shareable(question="Where is parcel 4711?", answer="Returns [1].", **common)
    assert not shareable(
        question="Can products be returned?",
        answer="Products cannot be returned [1].",
        source="rag",
        sources=sources,
        first_turn=False,
    )
    assert not shareable(question="x", answer="y", source="fallback", sources=[], first_turn=True)


async def test_an_answer_cache_that_cannot_write_costs_only_the_reuse(
    chat_client, chat_runtime, shop, monkeypatch
):
    """GIVEN the cache's disk refuses writes (full), WHEN a visitor asks, THEN they get
    their answer all the same; the next visitor's is worked out again, not reused."""

    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(chat_runtime.get_cache(), "put", disk_full)
    first = await ask(chat_client, shop, "How much does shipping cost?")
    again = await ask(chat_client, shop, "How much does shipping cost?")
    assert (first["source"], again["source"]) == ("faq", "faq")
    assert first["answer"] == again["answer"]
