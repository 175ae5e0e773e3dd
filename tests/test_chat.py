"""The chat API end to end: FAQ hits, RAG with real SDKs against local servers, fallbacks,
caching, ownership, limits and feedback."""

from __future__ import annotations

import json

import pytest

from shared.llm.base import Deadlines
from shared.rag.faq_match import threshold_for
from tests.chat_fixtures import MISTRAL_KEY, OPENAI_KEY, ask, set_bot


async def test_faq_paraphrase_is_answered_from_the_faq(chat_client, shop):
    body = await ask(chat_client, shop, "what does delivery cost?")
    assert body["source"] == "faq"
    assert "€4.90" in body["answer"]
    assert body["faq_id"]
    assert body["visitor_token"].startswith("vt_")
    assert body["sources"] == []


async def test_unrelated_question_gets_the_handoff_text(chat_client, shop):
    body = await ask(chat_client, shop, "Who won the football world cup in 1954?")
    assert body["source"] == "fallback"
    assert "care@fernwood.example" in body["answer"]


async def test_offline_default_answers_extractively_with_its_source(chat_client, shop):
    body = await ask(chat_client, shop, "Which items can't be returned?")
    assert body["source"] == "rag"
    assert "personalised" in body["answer"]
    assert body["sources"][0]["title"].startswith("Returns and refunds policy")
    assert body["sources"][0]["chunk_id"]


async def test_offline_answer_hands_over_when_no_passage_holds_a_word_of_the_question(
    chat_client, shop
):
    # GIVEN the demo shop offline: retrieval finds passages near this question by meaning
    # (0.38, over the relevance floor of 0.30), none of which has a word of it (the shop's
    # documents do not give opening hours), and no FAQ comes near (0.35)
    # WHEN a visitor asks it
    body = await ask(chat_client, shop, "When do you open on Sundays?")
    # THEN the bot says it cannot answer and how to reach the team, instead of reading out
    # the first sentence of the nearest passage (when orders leave the warehouse)
    assert body["source"] == "fallback", body["why"]
    assert "care@fernwood.example" in body["answer"]
    assert body["why"]["rule"] == "no_answer"
    assert body["why"]["closest_passage"] is not None  # passages were read, not missing
    assert body["sources"] == []


async def test_openai_sdk_streams_a_grounded_answer(chat_client, chat_runtime, shop, fake_openai):
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    response = await chat_client.post(
        "/v1/chat",
        json={"message": "Which items can't be returned?"},
        headers={**shop.headers(), "Accept": "text/event-stream"},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block.split("\n", 1) for block in response.text.strip().split("\n\n")]
    names = [e[0].removeprefix("event: ") for e in events]
    assert names[-1] == "done"
    assert set(names[:-1]) == {"token"}
    assert len(names) > 3  # streamed in pieces
    tokens = "".join(json.loads(e[1].removeprefix("data: "))["text"] for e in events[:-1])
    done = json.loads(events[-1][1].removeprefix("data: "))
    assert tokens == done["answer"] == fake_openai.answer
    assert done["source"] == "rag"
    assert len(done["sources"]) == 1  # only the cited source
    sent = fake_openai.requests[-1]
    assert sent["model"] == "gpt-4o-mini"
    assert sent["stream"] is True
    system = sent["messages"][0]["content"]
    assert "[1]" in system
    assert "not instructions" in system
    assert sent["messages"][-1] == {"role": "user", "content": "Which items can't be returned?"}
    assert fake_openai.headers[-1]["authorization"] == f"Bearer {OPENAI_KEY}"


async def test_mistral_sdk_answers_and_usage_is_counted(chat_client, chat_runtime, shop, conn):
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["mistral", "openai"])
    body = await ask(chat_client, shop, "Which items can't be returned?")
    assert body["answer"].startswith("Mistral says")
    cur = await conn.execute(
        "SELECT provider, model, tokens_in, tokens_out, cost_usd FROM messages WHERE id = %s",
        (body["message_id"],),
    )
    row = await cur.fetchone()
    assert (row["provider"], row["model"]) == ("mistral", "mistral-small-latest")
    assert row["tokens_in"] == 321
    assert float(row["cost_usd"]) > 0


@pytest.mark.parametrize("failure", ["500", "429", "hang"])
async def test_primary_failure_falls_over_to_the_next_provider(
    chat_client, chat_runtime, shop, fake_mistral, fake_openai, failure, log_stream
):
    chat_runtime.deadlines = Deadlines(connect=1, first_token=1.0, total=5)
    fake_mistral.mode = failure
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["mistral", "openai"])
    body = await ask(chat_client, shop, "Which items can't be returned?")
    assert body["answer"] == fake_openai.answer
    assert body["source"] == "rag"
    logs = log_stream.getvalue()
    assert "llm provider failed" in logs
    assert MISTRAL_KEY not in logs
    assert OPENAI_KEY not in logs


async def test_all_providers_down_gives_the_handoff_text_and_a_logged_error(
    chat_client, chat_runtime, shop, fake_mistral, fake_openai, conn, log_stream
):
    fake_mistral.mode = fake_openai.mode = "500"
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["mistral", "openai"])
    body = await ask(chat_client, shop, "Which items can't be returned?")
    assert body["source"] == "fallback"
    cur = await conn.execute("SELECT error FROM messages WHERE id = %s", (body["message_id"],))
    assert "mistral: server" in (await cur.fetchone())["error"]
    assert "every llm provider failed" in log_stream.getvalue()


async def test_circuit_breaker_skips_a_dead_provider(
    chat_client, chat_runtime, shop, fake_mistral, fake_openai
):
    fake_mistral.mode = "500"
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["mistral", "openai"])
    for n in range(5):
        await ask(chat_client, shop, f"Which items can't be returned? ({n})")
    # opened after three failed calls (answers, and grey-zone checks where there were some)
    assert len(fake_mistral.requests) + len(fake_mistral.checks) == 3
    assert len(fake_openai.requests) == 5


async def test_a_used_up_quota_is_not_retried_but_a_burst_limit_is(
    chat_client, chat_runtime, shop, fake_mistral, fake_openai, log_stream
):
    """Hardening item 9: a 429 insufficient_quota is a billing stop (the provider is skipped
    from the first one on, and the log says so); a plain 429 is tried again next time."""
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai", "mistral"])
    fake_openai.mode = "quota"
    for n in range(3):
        body = await ask(chat_client, shop, f"Which items can't be returned? ({n})")
        assert body["answer"] == fake_mistral.answer  # the next provider answered
    assert len(fake_openai.requests) == 1
    assert '"kind": "quota"' in log_stream.getvalue()
    assert "llm provider refuses" in log_stream.getvalue()
    fake_mistral.mode = "429"
    for n in range(2):
        await ask(chat_client, shop, f"Are opened items returnable? ({n})")
    assert len(fake_mistral.requests) == 3 + 2  # a burst limit is no reason to stop trying


async def test_daily_token_budget_switches_to_extractive(
    chat_client, chat_runtime, shop, fake_openai
):
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"], daily_token_budget=100)
    first = await ask(chat_client, shop, "Which items can't be returned?")
    assert first["answer"] == fake_openai.answer  # 321 + n tokens: now over budget
    for n in range(3):  # new visitors each time: the budget is per bot, not per visitor
        later = await ask(chat_client, shop, f"Can I return opened hygiene items? {n}")
        assert later["source"] == "rag"
        assert later["answer"] != fake_openai.answer
    assert len(fake_openai.requests) == 1


async def test_cache_answers_repeats_and_forgets_on_kb_change(chat_client, shop, chat_runtime):
    first = await ask(chat_client, shop, "Which items can't be returned?")
    again = await ask(chat_client, shop, "  which items CAN'T be returned ")
    assert (first["source"], again["source"]) == ("rag", "cache")
    assert again["answer"] == first["answer"]
    async with chat_runtime.db.connection() as conn:
        await conn.execute(
            "UPDATE bots SET kb_version = kb_version + 1 WHERE id = %s", (shop.bot_id,)
        )
    after = await ask(chat_client, shop, "Which items can't be returned?")
    assert after["source"] == "rag"


async def test_conversation_continues_only_for_its_visitor(chat_client, shop):
    first = await ask(chat_client, shop, "How long does delivery take?")
    follow = await ask(
        chat_client,
        shop,
        "And to Austria?",
        conversation_id=first["conversation_id"],
        visitor_id=first["visitor_id"],
        visitor_token=first["visitor_token"],
    )
    assert follow["conversation_id"] == first["conversation_id"]

    stranger = await ask(chat_client, shop, "Hello")
    for attempt in (
        {"visitor_id": stranger["visitor_id"], "visitor_token": stranger["visitor_token"]},
        {"visitor_id": first["visitor_id"], "visitor_token": stranger["visitor_token"]},
        {},
    ):
        response = await chat_client.post(
            "/v1/chat",
            headers=shop.headers(),
            json={
                "message": "What did I ask before?",
                "conversation_id": first["conversation_id"],
                **attempt,
            },
        )
        assert response.status_code == 404, attempt
        assert "delivery" not in response.text.lower()


async def test_retry_with_client_message_id_returns_the_stored_answer(chat_client, shop, conn):
    first = await ask(chat_client, shop, "Do you sell gift cards?", client_message_id="m-1")
    retry = await ask(
        chat_client,
        shop,
        "Do you sell gift cards?",
        client_message_id="m-1",
        visitor_id=first["visitor_id"],
        visitor_token=first["visitor_token"],
    )
    assert retry["message_id"] == first["message_id"]
    cur = await conn.execute("SELECT count(*) AS n FROM messages")
    assert (await cur.fetchone())["n"] == 2


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Origin": "https://evil.example"}, 403, "origin_not_allowed"),
        ({"Origin": None}, 403, "origin_not_allowed"),
        ({"Authorization": "Bearer pk_notakey"}, 401, "unauthorized"),
    ],
)
async def test_publishable_key_is_refused_off_its_origins(chat_client, shop, headers, status, code):
    merged = {k: v for k, v in {**shop.headers(), **headers}.items() if v is not None}
    response = await chat_client.post("/v1/chat", headers=merged, json={"message": "hi"})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_too_long_and_rate_limited_messages_get_clear_errors(chat_client, chat_runtime, shop):
    response = await chat_client.post(
        "/v1/chat", headers=shop.headers(), json={"message": "x" * 2001}
    )
    assert response.status_code == 422
    await set_bot(chat_runtime, shop.bot_id, rate_limit_per_minute=3)
    # every request counts, the invalid one above included (as over the WebSocket)
    statuses = [
        (
            await chat_client.post("/v1/chat", headers=shop.headers(), json={"message": f"hi {n}"})
        ).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]
    limited = await chat_client.post("/v1/chat", headers=shop.headers(), json={"message": "hi"})
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1


async def test_visitors_behind_one_address_each_have_an_allowance_under_a_ceiling(
    chat_client, chat_runtime, shop
):
    """Hardening item 13: a NAT's visitors do not share one allowance; an address that
    claims ever new visitor ids stops at the ceiling (ADDRESS_CEILING x the bot's rate)."""
    await set_bot(chat_runtime, shop.bot_id, rate_limit_per_minute=2)

    async def say(visitor: str | None = None) -> int:
        headers = shop.headers() | ({"X-Parley-Visitor-Id": visitor} if visitor else {})
        response = await chat_client.post("/v1/chat", headers=headers, json={"message": "hi"})
        status: int = response.status_code
        return status

    assert [await say("v_busy") for _ in range(3)] == [200, 200, 429]
    assert await say("v_quiet") == 200  # same address, their own allowance
    assert [await say() for _ in range(3)] == [200, 200, 429]  # visitors without an id yet
    # 5 let in so far from this address; the ceiling is 10 x 2 = 20 a minute
    claimed = [await say(f"v_{n}") for n in range(30)]
    let_in = claimed.count(200)
    assert 15 <= let_in <= 16, claimed  # (one more if a 3 s emission interval passed)
    assert claimed[:15] == [200] * 15
    assert set(claimed[let_in:]) == {429}


async def test_loading_the_widget_does_not_use_up_the_message_allowance(
    chat_client, chat_runtime, shop
):
    await set_bot(chat_runtime, shop.bot_id, rate_limit_per_minute=2)
    for _ in range(5):  # five page loads
        config = await chat_client.get("/v1/widget/config", headers=shop.headers())
        assert config.status_code == 200
    statuses = [
        (
            await chat_client.post("/v1/chat", headers=shop.headers(), json={"message": "hi"})
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


async def test_secret_key_chats_with_a_named_bot(chat_client, shop):
    headers = {"Authorization": f"Bearer {shop.secret_key}"}
    missing = await chat_client.post("/v1/chat", headers=headers, json={"message": "hi"})
    assert missing.status_code == 422
    body = (
        await chat_client.post(
            "/v1/chat",
            headers=headers,
            json={
                "message": "How much does shipping cost?",
                "bot_id": str(shop.bot_id),
                "visitor_id": "crm-customer-42",
            },
        )
    ).json()
    assert body["source"] == "faq"
    assert body["visitor_id"] == "crm-customer-42"


async def test_feedback_only_on_the_visitors_own_answer(chat_client, shop, conn):
    first = await ask(chat_client, shop, "How much does shipping cost?")
    other = await ask(chat_client, shop, "Do you sell gift cards?")
    mine = {
        "message_id": first["message_id"],
        "rating": -1,
        "comment": "too short",
        "visitor_id": first["visitor_id"],
        "visitor_token": first["visitor_token"],
    }
    assert (
        await chat_client.post("/v1/chat/feedback", headers=shop.headers(), json=mine)
    ).status_code == 200
    theirs = {**mine, "message_id": other["message_id"]}
    assert (
        await chat_client.post("/v1/chat/feedback", headers=shop.headers(), json=theirs)
    ).status_code == 404
    cur = await conn.execute(
        "SELECT feedback, feedback_comment_enc FROM messages WHERE id = %s", (first["message_id"],)
    )
    row = await cur.fetchone()
    assert row["feedback"] == -1
    assert b"too short" not in bytes(row["feedback_comment_enc"])


async def test_widget_config_shows_public_settings_only(chat_client, shop):
    response = await chat_client.get("/v1/widget/config", headers=shop.headers())
    body = response.json()
    assert body["title"] == "Fernwood Outfitters"
    assert body["starter_questions"]
    assert "instructions" not in body
    assert "allowed_origins" not in body


async def test_chat_stores_encrypted_explainable_messages(chat_client, shop, conn):
    body = await ask(chat_client, shop, "what does delivery cost?")
    cur = await conn.execute(
        "SELECT role, content_enc, source, faq_id, matched_question,"
        " confidence, latency_ms FROM messages ORDER BY created_at"
    )
    user, bot = await cur.fetchall()
    assert b"delivery" not in bytes(user["content_enc"])
    assert (bot["source"], str(bot["faq_id"])) == ("faq", body["faq_id"])
    assert bot["matched_question"] == "How much does shipping cost?"
    assert 0 < bot["confidence"] <= 1
    assert bot["latency_ms"] >= 0


async def test_browsers_on_other_sites_may_call_the_chat_api(chat_client, shop):
    preflight = await chat_client.options(
        "/v1/chat",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    refused = await chat_client.get(
        "/v1/widget/config", headers=shop.headers(origin="https://evil.example")
    )
    assert refused.status_code == 403  # CORS lets the browser read the refusal, nothing more
    assert refused.headers["access-control-allow-origin"] == "*"


async def test_each_answer_is_stored_after_its_question_and_counts_faq_hits(
    chat_client, shop, conn
):
    first = await ask(chat_client, shop, "How much does shipping cost?")
    ids = {k: first[k] for k in ("conversation_id", "visitor_id", "visitor_token")}
    for question in ("Do you sell gift cards?", "How much does shipping cost?"):
        await ask(chat_client, shop, question, **ids)
    cur = await conn.execute(
        "SELECT role FROM messages WHERE conversation_id = %s ORDER BY created_at, id",
        (first["conversation_id"],),
    )
    assert [r["role"] for r in await cur.fetchall()] == ["user", "assistant"] * 3
    cur = await conn.execute(
        "SELECT message_count FROM conversations WHERE id = %s", (first["conversation_id"],)
    )
    assert (await cur.fetchone())["message_count"] == 6
    cur = await conn.execute("SELECT hits FROM faqs WHERE id = %s", (first["faq_id"],))
    assert (await cur.fetchone())["hits"] == 1  # the repeat came from the answer cache


@pytest.mark.parametrize(
    ("question", "source", "expected"),
    [
        # the FAQ fits and the documents hold nothing as close: answered from the FAQ
        ("Do you ship to Canada?", "faq", "We ship to all EU countries"),
        # a passage is about as close: the documents answer, with the specific fact
        ("Is express shipping available to the UK?", "rag", "not available"),
        ("Can I return a personalised item?", "rag", "ersonalised"),
        ("Do I pay customs to Switzerland?", "rag", "import VAT"),
    ],
)
async def test_the_grey_zone_answers_from_whichever_source_fits_better(
    chat_client, shop, question, source, expected
):
    body = await ask(chat_client, shop, question)
    assert body["source"] == source, body["answer"]
    assert expected in body["answer"]


async def test_the_dashboards_preview_decides_as_the_chat_path_does(chat_runtime, shop):
    """ "Test a question" follows the grey zone too: what it shows is what a visitor gets."""
    from shared.chat.preview import preview
    from shared.db import bots as bot_rows

    async with chat_runtime.db.connection() as conn:
        bot = await bot_rows.get_bot(conn, scope=None, bot_id=shop.bot_id)
        embedder = chat_runtime.get_embedder()
        canada = await preview(conn, embedder, bot, "Do you ship to Canada?")
        uk = await preview(conn, embedder, bot, "Is express shipping available to the UK?")
    assert canada["confidence"] < canada["threshold"]
    assert canada["decision"] == "faq"
    assert canada["faq"]["question"] == "Which countries do you ship to?"
    assert uk["decision"] == "documents"


@pytest.mark.parametrize(
    ("question", "lacks", "expected"),
    [
        # above the threshold, but no FAQ says anything about canoes or Norway: the
        # shipping-cost FAQ would quote the German and EU prices
        ("How much is shipping for a canoe?", ["cano"], "flat €29"),
        ("How much is shipping to Norway?", ["norway"], "from €14.90"),
    ],
)
async def test_a_faq_match_gives_way_when_only_the_documents_hold_what_is_asked(
    chat_client, chat_runtime, shop, question, lacks, expected
):
    """GIVEN the demo shop, WHEN a question matches a FAQ above the threshold (short of sure)
    but names something no FAQ mentions and a passage does, THEN the documents answer, and
    why says what the FAQ lacked; the preview decides the same."""
    from shared.chat.preview import preview
    from shared.db import bots as bot_rows

    body = await ask(chat_client, shop, question)
    assert body["why"]["faq_confidence"] >= body["why"]["threshold"]
    assert body["why"]["rule"] == "documents"
    assert body["why"]["faq_lacks"] == lacks
    assert body["source"] == "rag"
    assert expected in body["answer"]
    async with chat_runtime.db.connection() as conn:
        bot = await bot_rows.get_bot(conn, scope=None, bot_id=shop.bot_id)
        shown = await preview(conn, chat_runtime.get_embedder(), bot, question)
    assert shown["decision"] == "documents"
    assert shown["lacking"] == lacks


async def test_a_faq_match_holds_when_no_passage_holds_the_word_it_lacks(
    chat_client, chat_runtime, shop
):
    """GIVEN the demo shop, WHEN the question's extra word is one no FAQ and no passage
    holds, or one another FAQ holds, THEN the FAQ above the threshold answers as before."""
    from shared.db import bots as bot_rows
    from shared.rag.faq_match import match_faq, unmatched_words

    grandmother = "How much does shipping cost for my grandmother?"
    tent = "How much does shipping a tent cost?"
    embedder = chat_runtime.get_embedder()
    lacking = {}
    async with chat_runtime.db.connection() as conn:
        bot = await bot_rows.get_bot(conn, scope=None, bot_id=shop.bot_id)
        for text in (grandmother, tent):
            vector = await embedder.embed_one(text)
            match = await match_faq(conn, bot_id=bot["id"], text=text, vector=vector)
            assert match.best is not None
            assert match.best.question == "How much does shipping cost?"
            lacking[text] = await unmatched_words(
                conn,
                bot=bot,
                match=match,
                text=text,
                threshold=0.75,
                calibration=embedder.calibration,
            )
    assert lacking[grandmother] == ("grandmoth",)  # the FAQ lacks it, and so do the documents
    assert lacking[tent] == ()  # other FAQs speak of tents ("Can you fix my tent?")
    for text in (grandmother, tent):
        body = await ask(chat_client, shop, text)
        assert body["source"] == "faq", body["why"]
        assert body["why"]["rule"] == "faq_above_threshold"
        assert "faq_lacks" not in body["why"]


async def test_every_answer_says_why_it_came_from_where_it_did(chat_client, chat_runtime, shop):
    calibration = chat_runtime.get_embedder().calibration
    hit = await ask(chat_client, shop, "what does delivery cost?")
    assert hit["why"]["rule"] == "faq_above_threshold"
    assert hit["why"]["faq_confidence"] >= hit["why"]["threshold"] == calibration.faq_threshold
    assert hit["why"]["threshold_from"] == "default"
    grey = await ask(chat_client, shop, "Do you ship to Canada?")
    assert grey["why"]["rule"] == "faq_grey_zone"
    assert grey["why"]["faq_confidence"] - grey["why"]["closest_passage"] >= calibration.faq_lead
    docs = await ask(chat_client, shop, "Can I return a personalised item?")
    assert docs["why"]["rule"] == "documents"
    assert docs["why"]["faq_confidence"] < docs["why"]["threshold"]
    nothing = await ask(chat_client, shop, "Who painted the Mona Lisa?")
    assert nothing["why"]["rule"] == "no_answer"
    again = await ask(chat_client, shop, "what does delivery cost?")
    assert again["why"] == {"rule": "answer_cache", "first_from": "faq"}
    await set_bot(chat_runtime, shop.bot_id, faq_threshold=0.9)
    strict = await ask(chat_client, shop, "How do I return an item?")
    assert strict["why"]["threshold_from"] == "bot"
    assert strict["why"]["threshold"] == 0.9
    # the stored message keeps it, for the dashboard's transcript
    async with chat_runtime.db.connection() as conn:
        cur = await conn.execute("SELECT why FROM messages WHERE id = %s", (hit["message_id"],))
        row = await cur.fetchone()
    assert row["why"] == hit["why"]


async def test_the_default_threshold_falls_as_the_bots_faqs_gain_phrasings(
    chat_client, chat_runtime, shop
):
    calibration = chat_runtime.get_embedder().calibration
    # GIVEN the demo shop, whose FAQs have three phrasings each
    question = "How do I return an item?"
    first = await ask(chat_client, shop, question)
    assert first["why"]["threshold"] == calibration.faq_threshold
    # WHEN its FAQs gain alternatives (an owner adding what the knowledge gaps propose;
    # here every FAQ by the same number, as the count after such edits would read)
    await set_bot(chat_runtime, shop.bot_id, phrasings_per_faq=21.0, kb_version=2)
    # THEN the threshold a match is held to is the model's for that many phrasings, lower
    more = await ask(chat_client, shop, f"{question} Thanks")
    expected = threshold_for(None, calibration, 21.0)
    assert more["why"]["threshold"] == expected
    assert more["why"]["threshold_from"] == "default"
    if calibration.threshold_by_phrasings:  # the default model's is measured
        assert expected < calibration.faq_threshold
    # and the owner's own threshold still wins
    await set_bot(chat_runtime, shop.bot_id, faq_threshold=0.9, kb_version=3)
    strict = await ask(chat_client, shop, question)
    assert (strict["why"]["threshold"], strict["why"]["threshold_from"]) == (0.9, "bot")


async def test_a_lone_surrogate_from_the_provider_is_replaced_not_fatal(
    chat_client, chat_runtime, shop, fake_openai, monkeypatch
):
    """Hardening item 5: SSE ends with its final event, JSON is a 200, the stored text valid."""
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    monkeypatch.setattr(fake_openai, "answer", "Returns are free \ud800 within 30 days [1].")
    body = await ask(chat_client, shop, "Which items can't be returned?")
    assert body["answer"] == "Returns are free \ufffd within 30 days [1]."
    streamed = await chat_client.post(
        "/v1/chat",
        json={"message": "Are personalised items returnable?"},
        headers={**shop.headers(), "Accept": "text/event-stream"},
    )
    assert streamed.text.rstrip().split("\n\n")[-1].startswith("event: done")
    assert "\\ufffd" in streamed.text or "\ufffd" in streamed.text


async def test_a_provider_that_ignores_max_tokens_is_cut_off(
    chat_client, chat_runtime, shop, fake_openai, monkeypatch
):
    """Hardening item 6: a 2 MB answer is neither sent nor stored; the stream is closed."""
    from shared.llm.chain import MAX_ANSWER_CHARS

    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai"])
    monkeypatch.setattr(fake_openai, "answer", " ".join(["x" * 100_000] * 20))
    body = await ask(chat_client, shop, "Which items can't be returned?")
    assert len(body["answer"]) <= MAX_ANSWER_CHARS + 2
    assert body["answer"].endswith("…")
    async with chat_runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT length(content_enc) AS n FROM messages WHERE id = %s", (body["message_id"],)
        )
        row = await cur.fetchone()
    assert row["n"] < MAX_ANSWER_CHARS * 2  # encrypted, but nowhere near 2 MB
