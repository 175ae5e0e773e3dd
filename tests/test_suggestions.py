"""FAQs offered with an answer the bot could not give (``suggestions``), through the chat
API on the demo shop, offline."""

from __future__ import annotations

from uuid import UUID

from functions.admin.app import create_app as create_admin_app
from shared.rag.faq_match import FaqCandidate, FaqMatch, confidence, suggestions
from tests.chat_fixtures import ask, set_bot

# The demo shop: "I forgot my password" matches at 0.74, under the threshold, and no
# passage is relevant (docs/faq-matching.md), so the handoff text answers.
NEAR_MISS = "My login link doesn't work"
ITS_FAQ = "I forgot my password"


async def test_a_near_miss_is_offered_its_faq_and_asking_it_is_answered_from_it(chat_client, shop):
    # WHEN a visitor asks what a FAQ answers, in words too far from it to answer
    body = await ask(chat_client, shop, NEAR_MISS)
    # THEN the bot hands over, and offers that FAQ first, saying so with its reason
    assert body["source"] == "fallback"
    assert body["why"]["rule"] == "no_answer"
    offered = body["suggestions"]
    assert 1 <= len(offered) <= 3
    assert offered[0]["question"] == ITS_FAQ
    assert body["why"]["suggested"] == offered
    # WHEN the visitor asks the offered question (the widget's button does)
    picked = await ask(
        chat_client,
        shop,
        offered[0]["question"],
        conversation_id=body["conversation_id"],
        visitor_id=body["visitor_id"],
        visitor_token=body["visitor_token"],
    )
    # THEN that FAQ answers, and nothing more is offered
    assert picked["source"] == "faq"
    assert picked["faq_id"] == offered[0]["faq_id"]
    assert picked["suggestions"] == []


async def test_a_question_nothing_comes_near_is_offered_nothing(chat_client, shop):
    body = await ask(chat_client, shop, "What is the capital of France?")
    assert body["source"] == "fallback"
    assert body["suggestions"] == []
    assert "suggested" not in body["why"]


async def test_a_retried_message_gets_the_same_offer(chat_client, shop):
    first = await ask(chat_client, shop, NEAR_MISS, client_message_id="retry-1")
    again = await ask(
        chat_client,
        shop,
        NEAR_MISS,
        client_message_id="retry-1",
        visitor_id=first["visitor_id"],
        visitor_token=first["visitor_token"],
        conversation_id=first["conversation_id"],
    )
    assert again["message_id"] == first["message_id"]
    assert again["suggestions"] == first["suggestions"] != []


async def test_when_the_bots_llm_judged_the_faqs_none_is_offered(
    chat_client, chat_runtime, shop, fake_openai
):
    # GIVEN a bot whose LLM checks grey-zone matches, and says no FAQ shown answers
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    fake_openai.verdict = "0"
    body = await ask(chat_client, shop, NEAR_MISS)
    assert len(fake_openai.checks) == 1
    assert body["why"]["faq_check"] == "none"
    # THEN what it judged is not offered again
    assert body["suggestions"] == []


def offered(*scores: float) -> list[int]:
    """Which candidates (numbered from 1, best first) a match with these scores offers."""
    candidates = [FaqCandidate(UUID(int=n), f"q{n}", "a", s) for n, s in enumerate(scores, 1)]
    return [c.faq_id.int for c in suggestions(FaqMatch(candidates, confidence(candidates)))]


def test_offered_are_the_candidates_that_reach_the_grey_zones_floor():
    assert offered(0.64, 0.61, 0.59, 0.55) == [1, 2]
    # the best by its confidence: 0.59 leading by 0.14 is 0.625
    assert offered(0.59, 0.45) == [1]
    assert offered(0.55, 0.50) == []
    assert offered() == []
    assert offered(0.70, 0.69, 0.68, 0.67) == [1, 2, 3]  # three at most


async def test_gaps_and_analytics_say_which_offered_faq_the_visitors_took(
    chat_client, chat_runtime, shop, make_client
):
    # GIVEN two visitors handed over with the same offer; one takes it, the other does not
    took = await ask(chat_client, shop, NEAR_MISS)
    await ask(
        chat_client,
        shop,
        ITS_FAQ,
        conversation_id=took["conversation_id"],
        visitor_id=took["visitor_id"],
        visitor_token=took["visitor_token"],
    )
    left = await ask(chat_client, shop, NEAR_MISS)
    await ask(
        chat_client,
        shop,
        "Do you sell gift cards?",  # answered from another FAQ, not one offered
        conversation_id=left["conversation_id"],
        visitor_id=left["visitor_id"],
        visitor_token=left["visitor_token"],
    )
    # WHEN the shop reads its knowledge gaps and analytics
    admin = make_client(create_admin_app(chat_runtime))
    secret = {"Authorization": f"Bearer {shop.secret_key}"}
    response = await admin.get(f"/v1/admin/bots/{shop.bot_id}/gaps", headers=secret)
    assert response.status_code == 200, response.text
    [gap] = [g for g in response.json()["items"] if g["question"] == NEAR_MISS.lower()]
    # THEN the gap counts both, and names the FAQ the one visitor took
    assert gap["count"] == 2
    offered = took["suggestions"][0]["faq_id"]
    assert gap["picked"] == [{"faq_id": offered, "count": 1, "phrasings": [NEAR_MISS.lower()]}]
    # and the analytics count two offers, one taken
    analytics = await admin.get(f"/v1/admin/bots/{shop.bot_id}/analytics", headers=secret)
    assert analytics.status_code == 200, analytics.text
    assert analytics.json()["offers"] == {"made": 2, "taken": 1}
