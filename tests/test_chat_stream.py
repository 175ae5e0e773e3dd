"""Streaming over a real server: WebSocket framing, errors that keep the socket, origin
checks on the handshake, and a visitor leaving mid-answer stopping the provider call."""

from __future__ import annotations

import asyncio
import json
import os
import time
from uuid import UUID

import httpx2
import pytest
import websockets
from websockets.typing import Origin

from functions.chat.app import create_app
from shared.auth.tokens import api_key_prefix
from shared.crypto import Keyring
from shared.db import api_keys, bots, faqs
from shared.db import handoff as handoff_db
from shared.db.pool import Database
from shared.runtime import Runtime
from tests.chat_fixtures import ORIGIN, make_shop, set_bot
from tests.utils.servers import ThreadServer


@pytest.fixture
async def served(llm_settings, db_url, embedder):
    """The chat function under uvicorn, with a runtime of its own (its own event loop)."""
    setup = Runtime(
        settings=llm_settings,
        db=Database(db_url, max_size=2),
        keyring=Keyring(os.urandom(32)),
        embedder=embedder,
    )
    shop = await make_shop(setup)
    await setup.aclose()
    server_runtime = Runtime(
        settings=llm_settings,
        db=Database(db_url, max_size=4),
        keyring=setup.keyring,
        embedder=embedder,
    )
    with ThreadServer(create_app(server_runtime)) as server:
        yield server, shop, setup


WS_ORIGIN = Origin(ORIGIN)


def ws_url(server, shop):
    return server.url.replace("http://", "ws://") + f"/v1/chat/ws?key={shop.publishable_key}"


async def receive_answer(socket):
    tokens = []
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=30))
        if frame["type"] == "token":
            tokens.append(frame["text"])
        else:
            return tokens, frame


async def test_websocket_streams_tokens_then_done_and_survives_visitor_errors(served):
    server, shop, _ = served
    async with websockets.connect(ws_url(server, shop), origin=WS_ORIGIN) as socket:
        await socket.send(json.dumps({"type": "message", "text": "How much does shipping cost?"}))
        tokens, done = await receive_answer(socket)
        assert done["type"] == "done"
        assert done["source"] == "faq"
        assert "".join(tokens) == done["answer"]
        assert len(tokens) > 1

        await socket.send(json.dumps({"type": "message", "text": "x" * 2001}))
        _, error = await receive_answer(socket)
        assert (error["type"], error["code"]) == ("error", "validation_error")
        await socket.send("not json")
        _, error = await receive_answer(socket)
        assert error["code"] == "malformed_json"
        await socket.send(
            json.dumps(
                {
                    "type": "message",
                    "text": "And express?",
                    "conversation_id": done["conversation_id"],
                    "visitor_id": "someone-else",
                    "visitor_token": done["visitor_token"],
                }
            )
        )
        _, error = await receive_answer(socket)
        assert error["code"] == "not_found"

        await socket.send(
            json.dumps(
                {
                    "type": "message",
                    "text": "Do you sell gift cards?",
                    "conversation_id": done["conversation_id"],
                    "visitor_id": done["visitor_id"],
                    "visitor_token": done["visitor_token"],
                }
            )
        )
        _, again = await receive_answer(socket)
        assert again["type"] == "done"
        assert again["conversation_id"] == done["conversation_id"]


async def test_a_websocket_flood_over_the_limit_costs_no_embeddings(served, embedder):
    """GIVEN a bot allowing two messages a minute, WHEN one socket sends six different
    questions, THEN two are answered, four refused, and after the first refusal none of
    them reaches the model (each is counted before its question is embedded)."""
    server, shop, setup = served
    await set_bot(setup, shop.bot_id, rate_limit_per_minute=2)
    async with websockets.connect(ws_url(server, shop), origin=WS_ORIGIN) as socket:
        frames = []
        embedded = []
        for n in range(6):
            before = embedder.misses
            # answered from a FAQ: a handoff would also embed the FAQs' answers (once each)
            text = f"Do you sell gift cards? (question {n})"
            await socket.send(json.dumps({"type": "message", "text": text}))
            frames.append((await receive_answer(socket))[1])
            embedded.append(embedder.misses - before)
    assert [f["type"] for f in frames] == ["done", "done"] + ["error"] * 4
    assert {f["code"] for f in frames[2:]} == {"rate_limited"}
    assert embedded[:2] == [1, 1]  # answered: embedded while being counted
    assert embedded[3:] == [0, 0, 0]  # the first refusal may have embedded; none after it


async def ask_over(socket, text):
    await socket.send(json.dumps({"type": "message", "text": text}))
    return (await receive_answer(socket))[1]


async def revoke_widget_key(runtime, shop) -> None:
    """The owner revokes the shop's publishable key (as the admin API does)."""
    async with runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT id FROM api_keys WHERE prefix = %s", (api_key_prefix(shop.publishable_key),)
        )
        row = await cur.fetchone()
        await api_keys.revoke_key(conn, scope=shop.tenant_id, key_id=row["id"])


async def test_an_open_socket_stops_chatting_when_its_key_is_revoked(served):
    """GIVEN a visitor's socket that has been answered, WHEN the owner revokes the key it
    was opened with, THEN its next message is refused as a new request would be."""
    server, shop, setup = served
    async with websockets.connect(ws_url(server, shop), origin=WS_ORIGIN) as socket:
        first = await ask_over(socket, "How much does shipping cost?")
        assert first["type"] == "done"
        await revoke_widget_key(setup, shop)
        refused = await ask_over(socket, "Do you sell gift cards?")
        # nor may it pick up its conversation again (not a message: checked, not counted)
        done = await ask_over(socket, "How much does shipping cost?")
        await socket.send(
            json.dumps(
                {
                    "type": "resume",
                    "conversation_id": first["conversation_id"],
                    "visitor_id": first["visitor_id"],
                    "visitor_token": first["visitor_token"],
                }
            )
        )
        resumed = json.loads(await asyncio.wait_for(socket.recv(), timeout=30))
    assert (refused["type"], refused["code"]) == ("error", "unauthorized")
    assert done["code"] == "unauthorized"
    assert (resumed["type"], resumed["code"], resumed["frame"]) == (
        "error",
        "unauthorized",
        "resume",
    )


async def test_a_revoked_keys_socket_is_closed_instead_of_told_the_operators_reply(served):
    """GIVEN a visitor waiting for a person on an open socket, WHEN the key is revoked and
    an operator replies, THEN the reply is not pushed to the socket: it is closed (1008)."""
    server, shop, setup = served
    async with websockets.connect(ws_url(server, shop), origin=WS_ORIGIN) as socket:
        first = await ask_over(socket, "How much does shipping cost?")
        conversation = {k: first[k] for k in ("conversation_id", "visitor_id", "visitor_token")}
        await socket.send(json.dumps({"type": "handoff", **conversation}))
        _, status = await receive_answer(socket)
        assert (status["type"], status["state"]) == ("status", "waiting")
        await revoke_widget_key(setup, shop)
        async with setup.db.connection() as conn:
            cipher = await setup.cipher(conn, shop.tenant_id)
            await handoff_db.add_operator_message(
                conn,
                scope=None,
                conversation_id=UUID(first["conversation_id"]),
                text_enc=cipher.encrypt("Hello, Anna here."),
                user_id=None,
                name="Anna",
            )
        told, closed = await frames_until_closed(socket)
    assert closed is not None
    assert (closed.code, closed.reason) == (1008, "unauthorized")
    assert "operator_message" not in {frame["type"] for frame in told}


async def frames_until_closed(socket):
    """The frames the server sends until it closes the socket (10 s at most each), and its
    close frame."""
    told = []
    try:
        while True:
            told.append(json.loads(await asyncio.wait_for(socket.recv(), timeout=10)))
    except websockets.ConnectionClosed as closed:
        return told, closed.rcvd


async def test_an_open_socket_stops_chatting_when_its_site_is_no_longer_allowed(served):
    server, shop, setup = served
    async with websockets.connect(ws_url(server, shop), origin=WS_ORIGIN) as socket:
        assert (await ask_over(socket, "How much does shipping cost?"))["type"] == "done"
        await set_bot(setup, shop.bot_id, allowed_origins=["https://other.example"])
        refused = await ask_over(socket, "Do you sell gift cards?")
    assert (refused["type"], refused["code"]) == ("error", "origin_not_allowed")


async def test_an_open_socket_hears_the_faq_as_the_owner_last_wrote_it(served):
    """GIVEN a socket whose question was answered from a FAQ (and so cached), WHEN the owner
    rewrites that FAQ's answer, THEN the same question on the same socket gets the new
    answer, not the cached old one."""
    server, shop, setup = served
    question = "How much does shipping cost?"
    async with websockets.connect(ws_url(server, shop), origin=WS_ORIGIN) as socket:
        first = await ask_over(socket, question)
        assert first["source"] == "faq"
        async with setup.db.connection() as conn, conn.transaction():
            await faqs.update_faq(
                conn,
                tenant_id=shop.tenant_id,
                bot_id=shop.bot_id,
                faq_id=UUID(first["faq_id"]),
                changes={"answer": "Shipping is free this week."},
            )
            await bots.bump_kb_version(conn, tenant_id=shop.tenant_id, bot_id=shop.bot_id)
        again = await ask_over(socket, question)
    assert first["answer"] != "Shipping is free this week."
    assert (again["source"], again["answer"]) == ("faq", "Shipping is free this week.")


@pytest.mark.parametrize("origin", ["https://evil.example", None])
async def test_websocket_handshake_checks_the_origin(served, origin):
    server, shop, _ = served
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        async with websockets.connect(
            ws_url(server, shop), origin=Origin(origin) if origin else None
        ):
            pass
    assert info.value.response.status_code == 403


async def test_websocket_handshake_refuses_a_wrong_key(served):
    server = served[0]
    url = server.url.replace("http://", "ws://") + "/v1/chat/ws?key=pk_wrong"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(url, origin=WS_ORIGIN):
            pass


async def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_leaving_mid_answer_over_websocket_stops_the_provider(served, fake_openai):
    server, shop, setup = served
    await set_bot(setup, shop.bot_id, llm_chain=["openai"])
    fake_openai.mode = "slow"
    async with websockets.connect(ws_url(server, shop), origin=WS_ORIGIN) as socket:
        await socket.send(json.dumps({"type": "message", "text": "Which items can't be returned?"}))
        first = json.loads(await asyncio.wait_for(socket.recv(), timeout=30))
        assert first["type"] == "token"
    assert await wait_for(lambda: fake_openai.cancelled == 1)
    assert fake_openai.completed == 0


async def test_leaving_mid_answer_over_sse_stops_the_provider(served, fake_openai):
    server, shop, setup = served
    await set_bot(setup, shop.bot_id, llm_chain=["openai"])
    fake_openai.mode = "slow"
    async with (
        httpx2.AsyncClient(base_url=server.url, timeout=30) as client,
        client.stream(
            "POST",
            "/v1/chat",
            json={"message": "Which items can't be returned?"},
            headers={**shop.headers(), "Accept": "text/event-stream"},
        ) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("event: token"):
                break
    assert await wait_for(lambda: fake_openai.cancelled == 1)
    assert fake_openai.completed == 0
