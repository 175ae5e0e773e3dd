"""The chat path's database budget (DESIGN §6): a FAQ hit costs one pooled connection and
at most three statements — the caller (key, bot, origin and limit in one), the FAQ match
and storing the exchange. Counted on the real database, not timed."""

from __future__ import annotations

import os
from typing import Any

import psycopg
import pytest

from functions.chat.app import create_app
from shared.crypto import Keyring
from shared.db.pool import Database
from shared.runtime import Runtime
from tests.chat_fixtures import make_shop, set_bot


class CountingConnection(psycopg.AsyncConnection[Any]):
    """A real connection that counts the statements sent through ``execute``."""

    statements = 0

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        CountingConnection.statements += 1
        return await super().execute(*args, **kwargs)


@pytest.fixture
async def counted(llm_settings, db_url, embedder, make_client):
    runtime = Runtime(
        settings=llm_settings,
        db=Database(db_url, max_size=4, connection_class=CountingConnection),
        keyring=Keyring(os.urandom(32)),
        embedder=embedder,
    )
    shop = await make_shop(runtime)
    yield runtime, shop, make_client(create_app(runtime))
    await runtime.aclose()


async def ask(client, shop, text: str, **fields: Any) -> tuple[dict[str, Any], int, int]:
    """The answer, and the statements and pool checkouts that answering it cost."""
    runtime_db: Database = client._transport.app.state.runtime.db
    before = (CountingConnection.statements, runtime_db.stats().get("requests_num", 0))
    response = await client.post(
        "/v1/chat", headers=shop.headers(), json={"message": text, **fields}
    )
    assert response.status_code == 200, response.text
    statements = CountingConnection.statements - before[0]
    checkouts = runtime_db.stats()["requests_num"] - before[1]
    return response.json(), statements, checkouts


async def test_a_faq_hit_costs_one_checkout_and_three_statements(counted):
    _runtime, shop, client = counted
    await ask(client, shop, "How long does delivery take?")  # warms the tenant's key
    body, statements, checkouts = await ask(client, shop, "How much is shipping, roughly?")
    assert body["source"] == "faq"
    assert (statements, checkouts) == (3, 1)
    # continuing the conversation costs the same: ownership is checked as it is stored
    follow_up = {
        "conversation_id": body["conversation_id"],
        "visitor_id": body["visitor_id"],
        "visitor_token": body["visitor_token"],
        "client_message_id": "m-2",
    }
    again, statements, checkouts = await ask(
        client, shop, "When will my order arrive?", **follow_up
    )
    assert again["source"] == "faq"
    assert again["conversation_id"] == body["conversation_id"]
    assert (statements, checkouts) == (3, 1)


async def test_an_answer_from_the_cache_costs_two_statements(counted):
    _runtime, shop, client = counted
    first, _, _ = await ask(client, shop, "Do you sell gift cards?")
    assert first["source"] == "faq"
    cached, statements, checkouts = await ask(client, shop, "do you sell gift cards")
    assert cached["source"] == "cache"
    assert (statements, checkouts) == (2, 1)


async def test_any_request_holds_at_most_one_connection(
    llm_settings, db_url, embedder, make_client
):
    # GIVEN a pool of a single connection
    runtime = Runtime(
        settings=llm_settings,
        db=Database(db_url, min_size=1, max_size=1, timeout=2),
        keyring=Keyring(os.urandom(32)),
        embedder=embedder,
    )
    try:
        shop = await make_shop(runtime)
        from functions.admin.app import create_app as create_admin

        admin = make_client(create_admin(runtime))
        chat = make_client(create_app(runtime))
        secret = {"Authorization": f"Bearer {shop.secret_key}"}
        # WHEN an admin route (which opens its own connection) and the chat path run
        listed = await admin.get("/v1/admin/bots", headers=secret)
        answered = await chat.post(
            "/v1/chat", headers=shop.headers(), json={"message": "Do you sell gift cards?"}
        )
        # THEN neither waits for a second connection the pool cannot give
        assert listed.status_code == 200, listed.text
        assert answered.status_code == 200, answered.text
    finally:
        await runtime.aclose()


async def test_a_new_visitors_question_reads_no_conversation_before_its_answer(counted):
    """GIVEN questions only the documents answer, THEN for a visitor new with the question
    the conversation's context is not read (nothing is stored yet): one statement fewer than
    the same visitor's next question, and than a new visitor's to a bot with a daily budget,
    whose usage so far does count."""
    runtime, shop, client = counted
    await ask(client, shop, "How long does delivery take?")  # warms the tenant's key
    first, new_visitor, _ = await ask(client, shop, "Does the warranty cover UV damage?")
    ids = {k: first[k] for k in ("conversation_id", "visitor_id", "visitor_token")}
    follow, returning, _ = await ask(client, shop, "Can I return a canoe?", **ids)
    await set_bot(runtime, shop.bot_id, daily_token_budget=100_000)
    budgeted, with_budget, _ = await ask(client, shop, "Are opened hydration bladders returnable?")
    assert [a["source"] for a in (first, follow, budgeted)] == ["rag"] * 3
    assert returning == with_budget == new_visitor + 1
