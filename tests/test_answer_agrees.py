"""A question the bot would hand over is answered from its best FAQ when that FAQ's answer,
too, is the nearest to the question (``shared.rag.faq_match.answer_agrees``), and offered the
FAQ whose answer is nearest when that answer comes near enough (``suggestions``): through the
chat and admin APIs on the demo shop, offline, and on the rules themselves with the real
model."""

from __future__ import annotations

from uuid import UUID

from functions.admin.app import create_app as create_admin_app
from shared.embeddings.base import DEFAULT_CALIBRATION
from shared.embeddings.cached import CachedEmbedder
from shared.embeddings.onnx import INT8_CALIBRATION
from shared.rag.faq_match import (
    MAX_SUGGESTIONS,
    AnswerFit,
    FaqCandidate,
    FaqMatch,
    answer_agrees,
    nearest_answer,
    offered_for_answer,
    suggestions,
)
from tests.chat_fixtures import ask, set_bot

FLOOR = INT8_CALIBRATION.answer_agrees or 1.0  # the default runner's, measured
OFFER = INT8_CALIBRATION.answer_offer or 1.0
# The demo shop (docs/faq-matching.md, "Before the handoff"): the rental FAQ matches at 0.50,
# under the grey zone, and the passages retrieved share no word with the question, so the
# offline answerer reads none out; the rental FAQ's answer ("we rent tents, sleeping bags
# and backpacks by the week") is the nearest of the candidates' answers, at 0.62.
HIRE = "Can I hire a backpack for a week?"
RENTAL = "Can I rent equipment?"
# 0.73 to "I forgot my password" (whose answer says the link is valid for an hour, at 0.72)
# and no passage is relevant: with the bot's threshold at 0.85, a grey-zone match that the
# documents cannot settle.
EXPIRED = "The password reset link expired"
PASSWORD = "I forgot my password"
# 0.58 to the exchange FAQ: under the grey zone's floor (0.60), so no FAQ was offered by its
# phrasings; that FAQ's answer is the nearest of the candidates' answers, at 0.44 (the offer
# by the answer: 0.35, with the match at 0.50 or more).
SWAP = "Can I swap these boots for a bigger size?"
EXCHANGE = "Can I exchange an item for a different size?"


async def faq_question(runtime, faq_id: str) -> str:
    async with runtime.db.connection() as conn:
        cur = await conn.execute("SELECT question FROM faqs WHERE id = %s", (faq_id,))
        row = await cur.fetchone()
    return str(row["question"])


async def test_a_question_in_the_words_of_a_faqs_answer_is_answered_from_that_faq(
    chat_client, chat_runtime, shop
):
    # WHEN a visitor asks, in other words than the FAQ's, what its answer says
    body = await ask(chat_client, shop, HIRE)
    # THEN that FAQ answers instead of the handoff text, saying why
    assert body["source"] == "faq"
    assert await faq_question(chat_runtime, body["faq_id"]) == RENTAL
    assert "by the week" in body["answer"]
    why = body["why"]
    assert why["rule"] == "faq_answer_agrees"
    assert why["faq_confidence"] < INT8_CALIBRATION.grey_floor
    assert why["answer_similarity"] >= FLOOR
    assert body["suggestions"] == []
    # and the stored message keeps the reason, for the dashboard's transcript
    async with chat_runtime.db.connection() as conn:
        cur = await conn.execute("SELECT why FROM messages WHERE id = %s", (body["message_id"],))
        stored = await cur.fetchone()
    assert stored["why"]["rule"] == "faq_answer_agrees"


async def test_a_grey_zone_match_no_passage_settles_is_answered_when_its_answer_agrees(
    chat_client, chat_runtime, shop
):
    await set_bot(chat_runtime, shop.bot_id, faq_threshold=0.85)
    body = await ask(chat_client, shop, EXPIRED)
    assert body["source"] == "faq"
    assert await faq_question(chat_runtime, body["faq_id"]) == PASSWORD
    assert body["why"]["rule"] == "faq_answer_agrees"
    assert body["why"]["threshold"] == 0.85


async def test_a_question_nothing_answers_still_gets_the_handoff_text(chat_client, shop):
    body = await ask(chat_client, shop, "What is the capital of France?")
    assert body["source"] == "fallback"
    assert body["why"]["rule"] == "no_answer"
    assert "answer_similarity" not in body["why"]
    assert body["suggestions"] == []


async def test_a_question_handed_over_is_offered_the_faq_whose_answer_fits_it(
    chat_client, chat_runtime, shop
):
    # WHEN a visitor asks what a FAQ answers, too far from its phrasings to be offered by them
    body = await ask(chat_client, shop, SWAP)
    # THEN the bot hands over and offers that FAQ, whose answer is nearest to the question
    assert body["source"] == "fallback"
    assert body["why"]["rule"] == "no_answer"
    assert body["why"]["faq_confidence"] < INT8_CALIBRATION.grey_floor
    assert [s["question"] for s in body["suggestions"]] == [EXCHANGE]
    assert body["why"]["suggested"] == body["suggestions"]
    # and says which offer its answer brought, and how near that answer is
    for_answer = body["why"]["offered_for_answer"]
    assert for_answer["faq_id"] == body["suggestions"][0]["faq_id"]
    assert for_answer["answer_similarity"] >= OFFER
    # and taking the offer is answered from that FAQ
    visitor = {k: body[k] for k in ("conversation_id", "visitor_id", "visitor_token")}
    taken = await ask(chat_client, shop, EXCHANGE, **visitor)
    assert taken["source"] == "faq"
    assert taken["faq_id"] == body["suggestions"][0]["faq_id"]


async def test_when_the_bots_llm_judged_the_faqs_their_answers_do_not_overrule_it(
    chat_client, chat_runtime, shop, fake_openai
):
    # GIVEN a bot whose LLM checks grey-zone matches, and says no FAQ shown answers
    await set_bot(chat_runtime, shop.bot_id, faq_threshold=0.85, llm_chain=["openai"])
    fake_openai.verdict = "0"
    body = await ask(chat_client, shop, EXPIRED)
    # THEN the bot hands over, as the LLM judged
    assert len(fake_openai.checks) == 1
    assert body["source"] == "fallback"
    assert body["why"]["faq_check"] == "none"
    # WHEN the owner takes the LLM away; THEN the offline rules answer from the FAQ
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["extractive"])
    offline = await ask(chat_client, shop, EXPIRED)
    assert offline["why"]["rule"] == "faq_answer_agrees"


async def test_testing_a_question_shows_that_the_faqs_answer_decides(
    chat_runtime, shop, world, make_client
):
    admin = make_client(create_admin_app(chat_runtime))
    admin.headers["Authorization"] = f"Bearer {world.admin_session}"
    await set_bot(chat_runtime, shop.bot_id, faq_threshold=0.85)
    url = f"/v1/admin/bots/{shop.bot_id}/preview"
    agreed = (await admin.post(url, json={"question": EXPIRED})).json()
    assert agreed["decision"] == "faq"
    assert agreed["faq"]["question"] == PASSWORD
    assert agreed["answer_similarity"] >= FLOOR
    assert agreed["suggested"] == []
    nothing = (await admin.post(url, json={"question": "What is the capital of France?"})).json()
    assert (nothing["decision"], nothing["answer_similarity"]) == ("not_answered", None)
    assert nothing["suggested"] == []
    assert nothing["offered_for_answer"] is None
    offered = (await admin.post(url, json={"question": SWAP})).json()
    assert (offered["decision"], offered["suggested"]) == ("not_answered", [EXCHANGE])
    assert offered["offered_for_answer"]["question"] == EXCHANGE
    assert offered["offered_for_answer"]["answer_similarity"] >= OFFER


def candidate(n: int, question: str, answer: str, score: float) -> FaqCandidate:
    return FaqCandidate(UUID(int=n), question, answer, score)


RENT = candidate(1, RENTAL, "Yes, in our store we rent tents and backpacks by the week.", 0.45)
WASH = candidate(2, "How do I wash my jacket?", "Wash it at 30 °C with a mild detergent.", 0.30)


async def test_the_best_faq_answers_only_if_its_answer_is_the_nearest_and_near_enough(embedder):
    vector = await embedder.embed_one(HIRE)
    calibration = embedder.calibration
    # the best FAQ's answer is the nearest and past the floor: it answers
    fit = await nearest_answer(embedder, FaqMatch([RENT, WASH], 0.5), vector)
    assert fit is not None
    assert (fit.candidate, fit.best) == (RENT, True)
    assert fit.similarity >= FLOOR
    assert answer_agrees(fit, calibration)
    # the best FAQ by its phrasings is another than the one whose answer is nearest: none
    other = await nearest_answer(embedder, FaqMatch([WASH, RENT], 0.5), vector)
    assert other is not None
    assert (other.candidate, other.best) == (RENT, False)
    assert not answer_agrees(other, calibration)
    # the nearest answer, but far from the question: none
    far = candidate(3, RENTAL, "Please see our terms.", 0.45)
    assert not answer_agrees(
        await nearest_answer(embedder, FaqMatch([far, WASH], 0.5), vector), calibration
    )
    # a model whose figure was never measured never looks at the answers
    unmeasured = CachedEmbedder(embedder.inner)
    unmeasured.calibration = DEFAULT_CALIBRATION
    assert await nearest_answer(unmeasured, FaqMatch([RENT, WASH], 0.5), vector) is None
    assert not answer_agrees(fit, DEFAULT_CALIBRATION)


def test_the_faq_whose_answer_is_nearest_is_offered_past_both_bars():
    calibration = INT8_CALIBRATION
    floor = calibration.offer_floor
    near = AnswerFit(RENT, OFFER + 0.05, best=False)
    # near enough, and the match came near enough: offered, after those its phrasings offer
    assert suggestions(FaqMatch([WASH, RENT], floor + 0.01), calibration, near) == [RENT]
    # the answer not near enough, or the match too far: not offered
    too_far = AnswerFit(RENT, OFFER - 0.05, best=False)
    assert suggestions(FaqMatch([WASH, RENT], floor + 0.01), calibration, too_far) == []
    assert suggestions(FaqMatch([WASH, RENT], floor - 0.01), calibration, near) == []
    assert offered_for_answer(FaqMatch([WASH, RENT], floor + 0.01), calibration, near) == near
    # offered once, when the phrasings offer it already (and not for its answer)
    grey = calibration.grey_floor
    both_near = FaqMatch([RENT, WASH], grey + 0.01)
    assert suggestions(both_near, calibration, AnswerFit(RENT, 0.9, best=True)) == [RENT]
    assert offered_for_answer(both_near, calibration, AnswerFit(RENT, 0.9, best=True)) is None
    # and kept when the phrasings offer as many as may be offered
    others = [candidate(10 + n, f"Q{n}", f"A{n}", grey + 0.01) for n in range(MAX_SUGGESTIONS)]
    offered = suggestions(FaqMatch(others, grey + 0.02), calibration, near)
    assert offered == [*others[: MAX_SUGGESTIONS - 1], RENT]
    # a model without the measured figure offers by phrasings alone
    assert suggestions(FaqMatch([WASH, RENT], floor + 0.01), DEFAULT_CALIBRATION, near) == []
