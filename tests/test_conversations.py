"""Conversation logs and analytics: decrypted only for callers allowed to see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.utils import rows


async def test_transcript_is_decrypted_for_its_tenant_only(admin_client, world):
    a, b = world.tenants["a"], world.tenants["b"]
    url = f"/v1/admin/conversations/{a.conversation_id}"
    transcript = await admin_client.get(url, headers=world.headers(a.session))
    assert transcript.status_code == 200
    messages = transcript.json()["messages"]
    assert [m["text"] for m in messages] == [a.visitor_text, "Sorry! Please contact us."]
    assert messages[1]["source"] == "fallback"
    denied = await admin_client.get(url, headers=world.headers(b.session))
    assert denied.status_code == 404
    assert a.visitor_text not in denied.text


async def test_conversation_list_filters_and_pages(admin_client, world, runtime, conn):
    a = world.tenants["a"]
    for n in range(3):
        await rows.create_conversation(
            conn, tenant_id=a.tenant_id, bot_id=a.bot_id, visitor_id=f"v{n}"
        )
    url = f"/v1/admin/bots/{a.bot_id}/conversations"
    headers = world.headers(a.session)
    everything = await admin_client.get(url, headers=headers)
    assert len(everything.json()["items"]) == 4
    one = await admin_client.get(url + "?visitor_id=v1", headers=headers)
    assert [c["visitor_id"] for c in one.json()["items"]] == ["v1"]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    none = await admin_client.get(url, params={"from": future}, headers=headers)
    assert none.json()["items"] == []
    paged = await admin_client.get(url + "?limit=3", headers=headers)
    assert paged.json()["next_offset"] == 3


async def test_analytics_counts_sources_latency_cost_feedback_and_questions(
    admin_client, world, runtime, conn
):
    a = world.tenants["a"]
    cipher = await runtime.cipher(conn, a.tenant_id)
    conv = await rows.create_conversation(
        conn, tenant_id=a.tenant_id, bot_id=a.bot_id, visitor_id="stats"
    )
    exchanges = [
        ("Where is my order?", "faq", 5, None, 0, 0, 1),
        ("where is my order", "faq", 7, None, 0, 0, None),
        ("Can I pay with crypto?", "rag", 900, "mistral", 120, 40, -1),
        ("Do you sell unicorns?", "fallback", 20, None, 0, 0, None),
    ]
    for question, source, latency, provider, tin, tout, feedback in exchanges:
        await rows.add_exchange(
            conn,
            conversation_id=conv,
            bot_id=a.bot_id,
            question_enc=cipher.encrypt(question),
            answer_enc=cipher.encrypt("…"),
            source=source,
            latency_ms=latency,
            provider=provider,
            model="mistral-small-latest" if provider else None,
            tokens_in=tin,
            tokens_out=tout,
            cost_usd=0.0001 if provider else 0,
            feedback=feedback,
        )
    headers = world.headers(a.session)
    stats = (await admin_client.get(f"/v1/admin/bots/{a.bot_id}/analytics", headers=headers)).json()
    # the world's own conversation adds one question answered by the fallback
    assert stats["conversations"] == 2
    assert stats["answers"] == 5
    assert stats["sources"] == {"faq": 2, "rag": 1, "fallback": 2, "cache": 0}
    assert stats["shares"]["faq"] == 0.4
    assert stats["latency_ms"]["p50"] == 12
    assert stats["feedback"] == {"up": 1, "down": 1}
    assert stats["providers"] == [
        {
            "provider": "extractive",
            "model": "extractive",
            "answers": 1,
            "tokens_in": 0,
            "tokens_out": 0,
            "cost_usd": 0.0,
        },
        {
            "provider": "mistral",
            "model": "mistral-small-latest",
            "answers": 1,
            "tokens_in": 120,
            "tokens_out": 40,
            "cost_usd": 0.0001,
        },
    ]
    assert stats["top_questions"][0] == {"question": "where is my order", "count": 2}
    # the same numbers per day add up to the period's
    assert sum(d["answers"] for d in stats["daily"]) == stats["answers"]
    assert {s: sum(d[s] for d in stats["daily"]) for s in stats["sources"]} == stats["sources"]
    assert round(sum(d["cost_usd"] for d in stats["daily"]), 6) == round(
        sum(p["cost_usd"] for p in stats["providers"]), 6
    )

    unanswered = (
        await admin_client.get(f"/v1/admin/bots/{a.bot_id}/unanswered", headers=headers)
    ).json()["items"]
    assert {q["question"] for q in unanswered} == {"do you sell unicorns", a.visitor_text}
    window = {"from": "2000-01-01", "to": "2000-02-01"}
    empty = await admin_client.get(
        f"/v1/admin/bots/{a.bot_id}/analytics", params=window, headers=headers
    )
    assert empty.json()["answers"] == 0


async def test_conversations_filter_by_answer_source_and_feedback(admin_client, world, runtime):
    from tests.utils import rows

    a = world.tenants["a"]
    async with runtime.db.connection() as conn:
        cipher = await runtime.cipher(conn, a.tenant_id)
        rated = await rows.create_conversation(
            conn, tenant_id=a.tenant_id, bot_id=a.bot_id, visitor_id="rater"
        )
        await rows.add_message(
            conn,
            conversation_id=rated,
            bot_id=a.bot_id,
            role="assistant",
            content_enc=cipher.encrypt("From the FAQ."),
            source="faq",
            feedback=-1,
        )
    path = f"/v1/admin/bots/{a.bot_id}/conversations"
    headers = world.headers(a.session)

    async def ids(**params):
        response = await admin_client.get(path, headers=headers, params=params)
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()["items"]}

    everything = await ids()
    assert {str(rated), str(a.conversation_id)} <= everything
    assert await ids(source="faq") == {str(rated)}
    assert await ids(source="fallback") == {str(a.conversation_id)}
    assert await ids(feedback="down") == {str(rated)}
    assert await ids(feedback="up") == set()
    # words said, found although every message is encrypted; another tenant's are not searched
    assert await ids(q="4711 NEVER") == {str(a.conversation_id)}
    assert await ids(q="from the faq") == {str(rated)}
    assert await ids(q=world.tenants["b"].visitor_text) == set()
    assert await ids(q="from the faq", source="fallback") == set()
    bad = await admin_client.get(path, headers=headers, params={"source": "llm"})
    assert bad.status_code == 422
