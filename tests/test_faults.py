"""Faults from outside Parley's reach: the database restarting under chat load, and a
provider's stream cut in the middle. (Provider timeouts, 5xx, 429 and billing stops are in
test_chat.py; an S3 outage during ingestion in test_ingest.py.)"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from typing import Any
from uuid import UUID

import pytest

from parley.server import prepare
from shared.crypto import Keyring
from shared.db.embedded import EmbeddedPostgres
from shared.db.pool import Database
from shared.runtime import Runtime
from tests.chat_fixtures import make_shop, set_bot


@pytest.fixture
def own_server(tmp_path):
    """A PostgreSQL of this test's own, since the test restarts it."""
    server = EmbeddedPostgres(tmp_path / "pg", delete_on_stop=True)
    server.start()
    yield server
    server.stop()


async def test_a_database_restart_under_chat_load_loses_no_acknowledged_answer(
    own_server, make_client, make_settings, embedder
):
    from functions.chat.app import create_app

    settings = make_settings(DATABASE_URL=own_server.url)
    runtime = Runtime(
        settings,
        Database(own_server.url, max_size=4, timeout=1.0),
        keyring=Keyring(os.urandom(32)),
        embedder=embedder,
    )
    await prepare(runtime)
    shop = await make_shop(runtime)
    await set_bot(runtime, shop.bot_id, rate_limit_per_minute=10_000)
    client = make_client(create_app(runtime))
    acknowledged: dict[str, str] = {}  # message id -> the question it answered
    refused: list[dict[str, Any]] = []
    numbers = itertools.count()
    warmed_up, restarted = asyncio.Event(), asyncio.Event()

    async def visitor() -> None:
        after = 0
        while after < 5:  # keep asking until five answers came after the restart
            n = next(numbers)
            question = f"What does delivery cost to Berlin? (visitor {n})"
            headers = {**shop.headers(), "X-Parley-Visitor-Id": f"visitor-{n}"}
            response = await client.post("/v1/chat", json={"message": question}, headers=headers)
            if response.status_code == 200:
                acknowledged[response.json()["message_id"]] = question
                if len(acknowledged) >= 10:
                    warmed_up.set()
                after += restarted.is_set()
            else:
                refused.append({"status": response.status_code, **response.json()})
                await asyncio.sleep(0.05)

    async def restart() -> None:
        await warmed_up.wait()
        await asyncio.to_thread(own_server.pg_ctl, "restart", "-m", "fast")
        restarted.set()

    try:
        await asyncio.wait_for(asyncio.gather(restart(), *(visitor() for _ in range(4))), 120)
        # Refusals during the restart are the database's 503 in the JSON error shape, never
        # a 500; every answer the visitor was given is stored with its question.
        assert {r["status"] for r in refused} <= {503}, refused
        assert all(r["error"]["code"] == "database_unavailable" for r in refused)
        async with runtime.db.connection() as conn:
            cipher = await runtime.cipher(conn, shop.tenant_id)
            cur = await conn.execute(
                "SELECT a.id, q.content_enc FROM messages a JOIN messages q"
                " ON q.conversation_id = a.conversation_id AND q.role = 'user'"
                " WHERE a.id = ANY(%s)",
                ([UUID(m) for m in acknowledged],),
            )
            stored = {
                str(row["id"]): cipher.decrypt(row["content_enc"]) for row in await cur.fetchall()
            }
        assert len(acknowledged) > 10
        assert stored == acknowledged
    finally:
        await runtime.aclose()


@pytest.mark.parametrize("transport", ["json", "sse"])
async def test_a_stream_cut_mid_answer_ends_with_what_was_shown(
    chat_client, chat_runtime, shop, fake_openai, fake_mistral, transport
):
    """After the first token the visitor has seen part of an answer: Parley keeps it (no
    second provider's answer glued on), ends the stream properly and stores what was shown."""
    await set_bot(chat_runtime, shop.bot_id, llm_chain=["openai", "mistral"])
    fake_openai.mode = "cut"
    shown = "".join(fake_openai.pieces()[: len(fake_openai.pieces()) // 2])
    accept = "text/event-stream" if transport == "sse" else "application/json"
    response = await chat_client.post(
        "/v1/chat",
        json={"message": "Which items can't be returned?"},
        headers={**shop.headers(), "Accept": accept},
    )
    assert response.status_code == 200, response.text
    if transport == "sse":
        events = response.text.rstrip().split("\n\n")
        assert events[-1].startswith("event: done")
        done = json.loads(events[-1].split("data: ", 1)[1])
        tokens = "".join(
            json.loads(e.split("data: ", 1)[1])["text"] for e in events if "event: token" in e
        )
        assert tokens.strip() == shown.strip()
        message_id = done["message_id"]
    else:
        body = response.json()
        assert body["answer"] == shown.strip()
        message_id = body["message_id"]
    assert fake_mistral.requests == []  # nothing is glued onto what the visitor saw
    async with chat_runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT content_enc, error FROM messages WHERE id = %s", (message_id,)
        )
        row = await cur.fetchone()
        cipher = await chat_runtime.cipher(conn, shop.tenant_id)
    assert cipher.decrypt(row["content_enc"]) == shown.strip()
    assert "openai: network" in row["error"]
