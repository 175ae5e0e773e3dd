"""Handoff across processes: two `parley serve` on one PostgreSQL. The visitor's socket is
on the first, the operator answers through the second; PostgreSQL LISTEN/NOTIFY carries
the news, and a database restart mid-conversation loses nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from typing import Any
from uuid import UUID

import httpx2
import psycopg
import pytest
import websockets
from websockets.typing import Origin

from shared.db.embedded import EmbeddedPostgres
from tests.utils.servers import ParleyProcess

ORIGIN = "https://shop.example"
PASSWORD = "a long admin password"
# Far below the socket's own re-read interval (30 s): a frame this fast came by push.
PUSHED_WITHIN = 5.0
Frame = dict[str, Any]


@pytest.fixture
def database(tmp_path):
    server = EmbeddedPostgres(tmp_path / "pg", delete_on_stop=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def two_servers(tmp_path, database):
    env = {
        "DATABASE_URL": database.url,
        "PARLEY_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "PARLEY_DEMO": "0",
        "PARLEY_ADMIN_USERNAME": "admin",
        "PARLEY_ADMIN_PASSWORD": PASSWORD,
    }
    # One data folder, as the stack's functions share one volume and bucket: each tenant's
    # key-encryption key lives in the storage.
    shared = tmp_path / "data"
    first = ParleyProcess(shared, env).start()
    second = None
    try:
        second = ParleyProcess(shared, env).start()
        yield first, second
    finally:
        for server in (first, second):
            if server is not None:
                server.close()


def _set_up_shop(url: str) -> tuple[str, str]:
    """Through the admin API: a tenant, a bot for the shop's origin, its widget key; the
    admin's session token and the publishable key."""
    with httpx2.Client(base_url=url, timeout=30) as http:
        login = http.post("/v1/admin/login", json={"username": "admin", "password": PASSWORD})
        assert login.status_code == 200, login.text
        http.headers["Authorization"] = f"Bearer {login.json()['token']}"
        tenant = http.post("/v1/admin/tenants", json={"slug": "shop", "name": "Shop"}).json()
        bot = http.post(
            "/v1/admin/bots",
            json={"tenant_id": tenant["id"], "name": "Helper", "allowed_origins": [ORIGIN]},
        ).json()
        key = http.post(
            "/v1/admin/api-keys",
            json={"tenant_id": tenant["id"], "kind": "publishable", "bot_id": bot["id"]},
        ).json()
        return login.json()["token"], key["key"]


async def _frame(socket, kinds: tuple[str, ...], timeout: float = PUSHED_WITHIN) -> Frame:
    """The next frame of one of these kinds (tokens skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {kinds} frame within {timeout} s"
        frame: Frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=left))
        if frame["type"] in kinds:
            return frame
        assert frame["type"] == "token", frame


async def _reply(http: httpx2.AsyncClient, conversation_id: str, text: str) -> Frame:
    """An operator's reply; retried while the database is coming back (503)."""
    for _ in range(100):
        response = await http.post(
            f"/v1/admin/conversations/{conversation_id}/messages", json={"text": text}
        )
        if response.status_code != 503:
            assert response.status_code == 201, response.text
            reply: Frame = response.json()
            return reply
        await asyncio.sleep(0.1)
    raise AssertionError("the database did not come back")


async def test_an_operator_in_another_process_reaches_the_visitors_socket(two_servers, database):
    first, second = two_servers
    session, key = _set_up_shop(second.url)
    ws_url = first.url.replace("http://", "ws://") + f"/v1/chat/ws?key={key}"
    admin = httpx2.AsyncClient(
        base_url=second.url, headers={"Authorization": f"Bearer {session}"}, timeout=30
    )
    async with admin:
        await _conversation_across_processes(admin, ws_url, second.url, key, database)


async def _conversation_across_processes(admin, ws_url, second_url, key, database):
    async with websockets.connect(ws_url, origin=Origin(ORIGIN)) as socket:
        await socket.send(json.dumps({"type": "message", "text": "Where is my parcel?"}))
        done = await _frame(socket, ("done",), timeout=60)
        conversation = done["conversation_id"]
        await socket.send(
            json.dumps(
                {
                    "type": "handoff",
                    "conversation_id": conversation,
                    "visitor_token": done["visitor_token"],
                    "name": "Jonas",
                }
            )
        )
        status = await _frame(socket, ("status",))
        assert status["state"] == "waiting"

        # WHEN an operator answers through the other process
        took = await admin.post(
            f"/v1/admin/conversations/{conversation}/take", json={"operator": "Anna"}
        )
        assert took.status_code == 200, took.text
        assert (await _frame(socket, ("status",)))["state"] == "human"
        started = time.monotonic()
        sent = [
            await _reply(admin, conversation, f"Reply {n}: parcel 4711 is on its way.")
            for n in range(3)
        ]
        # THEN the replies arrive on the visitor's socket, pushed, in order, signed
        frames = [await _frame(socket, ("operator_message",)) for _ in sent]
        delay = time.monotonic() - started
        assert [f["message_id"] for f in frames] == [s["message_id"] for s in sent]
        assert [f["text"][:7] for f in frames] == ["Reply 0", "Reply 1", "Reply 2"]
        assert {f["operator"] for f in frames} == {"Anna"}
        assert delay < PUSHED_WITHIN

        # AND the bot stays silent while a person handles the conversation
        await socket.send(
            json.dumps(
                {
                    "type": "message",
                    "text": "Thanks! And can I return it?",
                    "conversation_id": conversation,
                    "visitor_id": done["visitor_id"],
                    "visitor_token": done["visitor_token"],
                }
            )
        )
        received = json.loads(await asyncio.wait_for(socket.recv(), timeout=30))
        assert received["type"] == "received", received
        assert received["state"] == "human"

        # WHEN the database restarts mid-conversation
        await asyncio.to_thread(database.pg_ctl, "restart", "-m", "fast")
        after_restart = await _reply(
            admin, conversation, "Back after a hiccup: 4711 arrives today."
        )
        # THEN the reply committed while the first process was reconnecting still arrives
        frame = await _frame(socket, ("operator_message",), timeout=30)
        assert frame["message_id"] == after_restart["message_id"]

    # WHEN the visitor is away and comes back (to either process) THEN they get what was said
    missed = await _reply(admin, conversation, "Said while you were away.")
    ws_two = second_url.replace("http://", "ws://") + f"/v1/chat/ws?key={key}"
    async with websockets.connect(ws_two, origin=Origin(ORIGIN)) as socket:
        await socket.send(
            json.dumps(
                {
                    "type": "resume",
                    "conversation_id": conversation,
                    "visitor_token": done["visitor_token"],
                    "after": frame["message_id"],
                }
            )
        )
        caught_up = await _frame(socket, ("operator_message",))
        assert caught_up["message_id"] == missed["message_id"]
        assert (await _frame(socket, ("status",)))["state"] == "human"

    # AND every message is stored, encrypted at rest, in the order it was said
    await asyncio.to_thread(_check_stored, database.url, conversation)


def _check_stored(url: str, conversation: str) -> None:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT role, content_enc, operator_name FROM messages WHERE conversation_id = %s"
            " ORDER BY created_at, id",
            (UUID(conversation),),
        ).fetchall()
    assert [r[0] for r in rows] == [
        "user",
        "assistant",
        "operator",
        "operator",
        "operator",
        "user",
        "operator",
        "operator",
    ]
    assert all(b"4711" not in bytes(r[1]) for r in rows)
