"""Human handoff through the public APIs: a visitor asks for a person, an operator takes,
replies, hands back and closes; the bot stays silent meanwhile and resumes with the
conversation's context; the team is told through a signed, retried webhook."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from functions.admin.app import create_app as create_admin
from functions.chat.app import create_app as create_chat
from functions.gdpr.app import create_app as create_gdpr
from shared.crypto import Keyring
from shared.db.pool import Database
from shared.handoff.hours import BusinessHours
from shared.handoff.notify import SIGNATURE_HEADER, verify_signature
from shared.runtime import Runtime
from shared.scheduler import run_job
from tests.chat_fixtures import OPENAI_KEY, make_shop, set_bot
from tests.utils.servers import ThreadServer

SECRET = "whsec-test-0123456789abcdef"
RAG_QUESTION = "Is express shipping available to the UK?"


class Receiver:
    """A shop's webhook endpoint: records what arrives; fails the first ``fail`` calls."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.fail = 0

    def app(self) -> Starlette:
        async def hook(request: Request) -> JSONResponse:
            body = await request.body()
            self.received.append((body, dict(request.headers)))
            if self.fail > 0:
                self.fail -= 1
                return JSONResponse({"error": "down"}, status_code=503)
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture(scope="module")
def receiver():
    hook = Receiver()
    with ThreadServer(hook.app()) as server:
        hook.url = server.url + "/hook"  # type: ignore[attr-defined]
        yield hook


@pytest.fixture
async def rt(make_settings, db_url, embedder, fake_openai):
    fake_openai.mode, fake_openai.delay, fake_openai.echo = "ok", 0.0, False
    fake_openai.requests.clear()
    settings = make_settings(
        DATABASE_URL=db_url,
        OPENAI_API_KEY=OPENAI_KEY,
        OPENAI_BASE_URL=f"{fake_openai.url}/v1",
        PARLEY_LLM="openai",
        PARLEY_WEBHOOKS_ALLOW_PRIVATE="1",
    )
    runtime = Runtime(
        settings=settings,
        db=Database(db_url, max_size=4),
        keyring=Keyring(os.urandom(32)),
        embedder=embedder,
    )
    yield runtime
    await runtime.aclose()


@pytest.fixture
async def parts(rt, make_client, receiver):
    receiver.received.clear()
    receiver.fail = 0
    shop = await make_shop(rt)
    admin = make_client(create_admin(rt))
    response = await admin.patch(
        f"/v1/admin/bots/{shop.bot_id}",
        headers=_secret(shop),
        json={"handoff_webhook_url": receiver.url, "handoff_webhook_secret": SECRET},
    )
    assert response.status_code == 200, response.text
    assert response.json()["handoff_webhook_secret_set"] is True
    assert SECRET not in response.text
    return shop, make_client(create_chat(rt)), admin


def _secret(shop) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.secret_key}"}


async def _ask(chat, shop, text: str, conversation: dict[str, str] | None = None):
    body: dict[str, str] = {"message": text}
    if conversation:
        body |= {k: conversation[k] for k in ("conversation_id", "visitor_id", "visitor_token")}
    return await chat.post("/v1/chat", headers=shop.headers(), json=body)


async def _hand_off(chat, shop, answer: dict[str, str], **extra: str):
    """The visitor who got ``answer`` asks for a person."""
    body = {"conversation_id": answer["conversation_id"], "visitor_token": answer["visitor_token"]}
    return await chat.post("/v1/chat/handoff", headers=shop.headers(), json=body | extra)


async def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_visitor_reaches_a_person_and_the_bot_steps_back_and_returns(
    parts, rt, fake_openai, receiver
):
    shop, chat, admin = parts
    first = (await _ask(chat, shop, "How long do I have to return an item?")).json()
    assert first["source"] == "faq"
    assert first["state"] == "bot"
    visitor = {k: first[k] for k in ("conversation_id", "visitor_id", "visitor_token")}

    # WHEN the visitor asks for a person, leaving a name and an e-mail address
    handoff = await _hand_off(
        chat, shop, first, name="Jonas Weber", email="Jonas.Weber@Example.org"
    )
    assert handoff.status_code == 200, handoff.text
    assert handoff.json()["state"] == "waiting"
    assert handoff.json()["available"] is True

    # THEN the team is told by a signed webhook that names ids, not what was said
    await _wait_for(lambda: receiver.received)
    raw, headers = receiver.received[0]
    assert verify_signature(SECRET, raw, headers[SIGNATURE_HEADER.lower()])
    assert not verify_signature("another-secret-0123456789", raw, headers[SIGNATURE_HEADER.lower()])
    stale = datetime.now(UTC).timestamp() + 3600
    assert not verify_signature(SECRET, raw, headers[SIGNATURE_HEADER.lower()], now=stale)
    event = json.loads(raw)
    assert event["type"] == "conversation.waiting"
    assert event["conversation_id"] == first["conversation_id"]
    assert "Jonas" not in raw.decode()
    assert "return" not in raw.decode()

    # AND the conversation is in the inbox with the visitor's name and contact
    inbox = (await admin.get("/v1/admin/inbox", headers=_secret(shop))).json()["items"]
    assert [i["id"] for i in inbox] == [first["conversation_id"]]
    assert inbox[0]["state"] == "waiting"
    assert inbox[0]["visitor_name"] == "Jonas Weber"
    assert inbox[0]["contact"] == "jonas.weber@example.org"
    async with rt.db.connection() as conn:
        stored = await (
            await conn.execute(
                "SELECT visitor_name_enc, contact_enc FROM conversations WHERE id = %s",
                (UUID(first["conversation_id"]),),
            )
        ).fetchone()
    assert b"Jonas" not in bytes(stored["visitor_name_enc"])
    assert b"example.org" not in bytes(stored["contact_enc"])

    # WHEN the visitor writes while waiting THEN it is stored for the person, unanswered
    waiting = await _ask(chat, shop, "My order 4711 has not arrived", visitor)
    assert waiting.status_code == 202, waiting.text
    assert waiting.json()["state"] == "waiting"
    assert "answer" not in waiting.json()

    # WHEN an operator takes it and replies
    path = f"/v1/admin/conversations/{first['conversation_id']}"
    taken = await admin.post(f"{path}/take", headers=_secret(shop), json={"operator": "Anna"})
    assert taken.json() == {"conversation_id": first["conversation_id"], "state": "human"}
    reply = await admin.post(
        f"{path}/messages",
        headers=_secret(shop),
        json={"text": "Hello Jonas, I am checking order 4711 with the warehouse now."},
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["operator"] == "Anna"

    # THEN the visitor reads it (no socket: a poll after their last message)
    polled = await chat.get(
        f"/v1/chat/conversations/{first['conversation_id']}/messages",
        headers=shop.headers(),
        params={"after": waiting.json()["message_id"], "visitor_token": first["visitor_token"]},
    )
    assert polled.status_code == 200, polled.text
    assert polled.json()["state"] == "human"
    assert [(m["role"], m["operator"]) for m in polled.json()["messages"]] == [("operator", "Anna")]
    assert "order 4711" in polled.json()["messages"][0]["text"]

    # AND the bot stays silent while a person handles it, even for a FAQ question
    during = await _ask(chat, shop, "How long do I have to return an item?", visitor)
    assert during.status_code == 202
    assert during.json()["state"] == "human"
    requests_before = len(fake_openai.requests)
    during_rag = await _ask(chat, shop, RAG_QUESTION, visitor)
    assert during_rag.status_code == 202
    assert len(fake_openai.requests) == requests_before  # no model was asked

    # AND the operator's text is encrypted at rest
    async with rt.db.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT role, content_enc, operator_name FROM messages"
                " WHERE conversation_id = %s ORDER BY created_at, id",
                (UUID(first["conversation_id"]),),
            )
        ).fetchall()
    assert [r["role"] for r in rows] == [
        "user",
        "assistant",
        "user",
        "operator",
        "user",
        "user",
    ]
    assert all(b"4711" not in bytes(r["content_enc"]) for r in rows)

    # WHEN the operator hands back THEN the bot answers again, with the conversation's context
    released = await admin.post(f"{path}/release", headers=_secret(shop))
    assert released.json()["state"] == "bot"
    after = await _ask(chat, shop, RAG_QUESTION, visitor)
    assert after.status_code == 200
    assert after.json()["source"] == "rag"
    sent = json.dumps(fake_openai.requests[-1]["messages"])
    # the operator's reply is context; its order number, like the visitor's, is withheld
    assert "checking order [ORDER_1] with the warehouse" in sent
    assert "4711" not in sent

    # AND the transcript shows visitor, bot and operator messages in order
    transcript = (await admin.get(path, headers=_secret(shop))).json()
    assert [(m["role"], m["operator"]) for m in transcript["messages"]] == [
        ("user", None),
        ("assistant", None),
        ("user", None),
        ("operator", "Anna"),
        ("user", None),
        ("user", None),
        ("user", None),
        ("assistant", None),
    ]
    assert transcript["state"] == "bot"

    # WHEN it is closed THEN it leaves the inbox; a later message reopens it with the bot
    await admin.post(f"{path}/take", headers=_secret(shop))
    closed = await admin.post(f"{path}/close", headers=_secret(shop))
    assert closed.json()["state"] == "closed"
    assert (await admin.get("/v1/admin/inbox", headers=_secret(shop))).json()["items"] == []
    late = await admin.post(f"{path}/messages", headers=_secret(shop), json={"text": "hi"})
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "conversation_closed"
    again = await _ask(chat, shop, "How long do I have to return an item?", visitor)
    assert again.status_code == 200
    assert again.json()["state"] == "bot"


async def test_two_operators_and_a_conversation_taken_by_one(parts):
    shop, chat, admin = parts
    first = (await _ask(chat, shop, "Do you ship to Canada?")).json()
    await _hand_off(chat, shop, first)
    path = f"/v1/admin/conversations/{first['conversation_id']}"
    assert (
        await admin.post(f"{path}/take", headers=_secret(shop), json={"operator": "Anna"})
    ).status_code == 200
    clash = await admin.post(f"{path}/take", headers=_secret(shop), json={"operator": "Ben"})
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "conversation_taken"
    assert "Anna" in clash.json()["error"]["message"]
    # taking it again as the same person is fine
    same = await admin.post(f"{path}/take", headers=_secret(shop), json={"operator": "Anna"})
    assert same.status_code == 200


async def test_the_inbox_lists_the_oldest_waiting_first_then_those_handled(parts):
    shop, chat, admin = parts
    ids = []
    for question in ("Do you ship to Canada?", "How much does shipping cost?", "Hi"):
        answer = (await _ask(chat, shop, question)).json()
        await _hand_off(chat, shop, answer)
        ids.append(answer["conversation_id"])
    await admin.post(f"/v1/admin/conversations/{ids[0]}/take", headers=_secret(shop))
    inbox = (await admin.get("/v1/admin/inbox", headers=_secret(shop))).json()["items"]
    assert [(i["id"], i["state"]) for i in inbox] == [
        (ids[1], "waiting"),
        (ids[2], "waiting"),
        (ids[0], "human"),
    ]


async def test_a_visitor_may_ask_for_a_person_before_asking_the_bot(parts):
    shop, chat, _admin = parts
    response = await chat.post("/v1/chat/handoff", headers=shop.headers(), json={})
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["state"] == "waiting"
    assert status["visitor_token"].startswith("vt_")
    # the token it got proves the new conversation is theirs
    polled = await chat.get(
        f"/v1/chat/conversations/{status['conversation_id']}/messages",
        headers=shop.headers(),
        params={"visitor_token": status["visitor_token"]},
    )
    assert polled.json() == {
        "conversation_id": status["conversation_id"],
        "state": "waiting",
        "messages": [],
    }


async def test_another_visitor_cannot_ask_for_or_read_a_conversation(parts):
    shop, chat, _ = parts
    first = (await _ask(chat, shop, "Do you ship to Canada?")).json()
    other = (await _ask(chat, shop, "Hi")).json()
    for token in (other["visitor_token"], "vt_forged", None):
        body = {"conversation_id": first["conversation_id"], "visitor_token": token}
        handoff = await chat.post("/v1/chat/handoff", headers=shop.headers(), json=body)
        assert handoff.status_code == 404, handoff.text
        params = {"visitor_token": token} if token else {}
        polled = await chat.get(
            f"/v1/chat/conversations/{first['conversation_id']}/messages",
            headers=shop.headers(),
            params=params,
        )
        assert polled.status_code == 404
    unknown_after = await chat.get(
        f"/v1/chat/conversations/{first['conversation_id']}/messages",
        headers=shop.headers(),
        params={"visitor_token": first["visitor_token"], "after": other["message_id"]},
    )
    assert unknown_after.status_code == 404


async def test_a_bot_without_handoff_refuses_clearly(parts, rt):
    shop, chat, admin = parts
    response = await admin.patch(
        f"/v1/admin/bots/{shop.bot_id}", headers=_secret(shop), json={"handoff_enabled": False}
    )
    assert response.json()["handoff_enabled"] is False
    config = (await chat.get("/v1/widget/config", headers=shop.headers())).json()
    assert config["handoff_enabled"] is False
    first = (await _ask(chat, shop, "Hi")).json()
    refused = await _hand_off(chat, shop, first)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "handoff_disabled"
    # asking first, with no conversation yet, is refused before anything is stored
    first_thing = await chat.post("/v1/chat/handoff", headers=shop.headers(), json={})
    assert first_thing.status_code == 409
    async with rt.db.connection() as conn:
        row = await (await conn.execute("SELECT count(*) AS n FROM conversations")).fetchone()
    assert row is not None
    assert row["n"] == 1


async def test_outside_business_hours_the_visitor_leaves_an_email(parts, rt, make_client):
    shop, chat, admin = parts
    now = datetime.now(UTC)
    closed_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][now.weekday()]
    open_days = [d for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") if d != closed_day]
    hours = {"timezone": "UTC", "days": open_days, "open": "00:00", "close": "23:59"}
    response = await admin.patch(
        f"/v1/admin/bots/{shop.bot_id}", headers=_secret(shop), json={"business_hours": hours}
    )
    assert response.status_code == 200, response.text
    config = (await chat.get("/v1/widget/config", headers=shop.headers())).json()
    assert config["handoff_available"] is False
    opens_at = datetime.fromisoformat(config["handoff_opens_at"])
    assert opens_at.date() == (now + timedelta(days=1)).date()
    assert opens_at.hour == 0
    first = (await _ask(chat, shop, "Hi")).json()
    without = await _hand_off(chat, shop, first)
    assert without.status_code == 422
    assert without.json()["error"]["code"] == "email_required"
    bad = await _hand_off(chat, shop, first, email="x@y")
    assert bad.status_code == 422
    left = await _hand_off(chat, shop, first, email="mia@example.org")
    assert left.status_code == 200, left.text
    assert left.json()["available"] is False
    assert left.json()["opens_at"]

    # AND a GDPR export by that e-mail address finds the conversation
    gdpr = make_client(create_gdpr(rt))
    export = await gdpr.post(
        "/v1/gdpr/export", headers=_secret(shop), json={"contact": "MIA@example.org"}
    )
    assert export.status_code == 200, export.text
    assert [c["id"] for c in export.json()["conversations"]] == [first["conversation_id"]]
    assert export.json()["conversations"][0]["contact"] == "mia@example.org"


async def test_bad_business_hours_are_a_clear_422(parts):
    shop, _, admin = parts
    for hours, word in (
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"open": "18:00", "close": "09:00"}, "before close"),
        ({"days": ["someday"]}, "days"),
    ):
        response = await admin.patch(
            f"/v1/admin/bots/{shop.bot_id}", headers=_secret(shop), json={"business_hours": hours}
        )
        assert response.status_code == 422, response.text
        assert word in response.text


def test_business_hours_follow_the_shops_time_zone():
    hours = BusinessHours(timezone="Europe/Berlin", days=["mon", "tue", "wed", "thu", "fri"])
    friday_evening = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)  # 17:30 in Berlin
    assert not hours.is_open(friday_evening)
    assert hours.next_opening(friday_evening) == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert hours.is_open(datetime(2026, 12, 4, 15, 59, tzinfo=UTC))
    summer = datetime(2026, 7, 1, 7, 30, tzinfo=UTC)  # 09:30 in Berlin (CEST)
    assert hours.is_open(summer)
    assert hours.describe() == "Mon–Fri 09:00–17:00 (Europe/Berlin)"


async def test_a_failing_webhook_is_retried_and_never_blocks_the_chat(parts, rt, receiver):
    shop, chat, _admin = parts
    receiver.fail = 1
    first = (await _ask(chat, shop, "Hi")).json()
    handoff = await _hand_off(chat, shop, first)
    assert handoff.status_code == 200  # the visitor is not kept waiting by the webhook
    await _wait_for(lambda: receiver.received)
    async with rt.db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT attempts, delivered_at, last_error FROM handoff_notifications"
                " WHERE conversation_id = %s",
                (UUID(first["conversation_id"]),),
            )
        ).fetchone()
        assert row["attempts"] == 1
        assert row["delivered_at"] is None
        assert "503" in row["last_error"]
        # the back-off has passed
        await conn.execute("UPDATE handoff_notifications SET next_attempt_at = now()")
    assert await run_job(rt, "notify") == {"sent": 1, "failed": 0}
    assert len(receiver.received) == 2
    assert verify_signature(SECRET, *_signed(receiver.received[1]))
    assert await run_job(rt, "notify") == {"sent": 0, "failed": 0}  # delivered once


def _signed(received: tuple[bytes, dict[str, str]]) -> tuple[bytes, str]:
    body, headers = received
    return body, headers[SIGNATURE_HEADER.lower()]


async def _webhook_error(make_settings, db_url, embedder, make_client, url: str) -> str:
    """The error recorded for the notification of a visitor handed over by a bot whose
    webhook URL is ``url``."""
    runtime = Runtime(
        settings=make_settings(DATABASE_URL=db_url),
        db=Database(db_url, max_size=2),
        keyring=Keyring(os.urandom(32)),
        embedder=embedder,
    )
    try:
        shop = await make_shop(runtime)
        await set_bot(runtime, shop.bot_id, handoff_webhook_url=url)
        chat = make_client(create_chat(runtime))
        first = (await _ask(chat, shop, "Hi")).json()
        await _hand_off(chat, shop, first)
        await asyncio.sleep(0.3)
        async with runtime.db.connection() as conn:
            row = await (
                await conn.execute("SELECT last_error FROM handoff_notifications")
            ).fetchone()
        assert row is not None
        return str(row["last_error"])
    finally:
        await runtime.aclose()


async def test_webhooks_to_private_addresses_are_refused_by_default(
    make_settings, db_url, embedder, make_client, receiver
):
    receiver.received.clear()
    error = await _webhook_error(make_settings, db_url, embedder, make_client, receiver.url)
    assert receiver.received == []
    assert "non-public address" in error


async def test_a_stored_webhook_url_that_does_not_parse_is_a_failed_delivery(
    make_settings, db_url, embedder, make_client
):
    # GIVEN a bot whose webhook URL was stored before the API checked that it parses
    # WHEN a visitor waits for a person
    error = await _webhook_error(make_settings, db_url, embedder, make_client, "http://[oops/x")
    # THEN the notification is recorded as failed, saying why (not a crash of the job)
    assert "not a web address" in error


class Mailbox:
    """aiosmtpd's handler: what the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


async def test_the_team_is_emailed_when_a_visitor_waits(
    make_settings, db_url, embedder, make_client
):
    from aiosmtpd.controller import Controller

    from tests.utils.servers import free_port

    mailbox = Mailbox()
    port = free_port()
    runtime = Runtime(
        settings=make_settings(
            DATABASE_URL=db_url,
            PARLEY_SMTP_HOST="127.0.0.1",
            PARLEY_SMTP_PORT=str(port),
            PARLEY_SMTP_STARTTLS="0",
            PARLEY_SMTP_FROM="bot@shop.example",
            PARLEY_DASHBOARD_URL="https://parley.example/dashboard/",
        ),
        db=Database(db_url, max_size=2),
        keyring=Keyring(os.urandom(32)),
        embedder=embedder,
    )
    server = Controller(mailbox, hostname="127.0.0.1", port=port)
    try:
        shop = await make_shop(runtime)
        await set_bot(runtime, shop.bot_id, handoff_email="team@shop.example")
        chat = make_client(create_chat(runtime))
        # WHEN a visitor asks for a person while the mail server is down
        first = (await _ask(chat, shop, "My parcel 4711 is late")).json()
        handoff = await _hand_off(chat, shop, first, name="Jonas Weber")
        assert handoff.status_code == 200
        await asyncio.sleep(0.3)
        async with runtime.db.connection() as conn:
            row = await (
                await conn.execute("SELECT attempts, last_error FROM handoff_notifications")
            ).fetchone()
            assert row is not None
            assert row["attempts"] == 1
            assert "e-mail not sent" in row["last_error"]
            await conn.execute("UPDATE handoff_notifications SET next_attempt_at = now()")
        # THEN the retry, once it is back, sends one e-mail that names no visitor data
        server.start()
        assert await run_job(runtime, "notify") == {"sent": 1, "failed": 0}
        [(sender, recipients, content)] = mailbox.messages
        assert sender == "bot@shop.example"
        assert recipients == ["team@shop.example"]
        text = content.decode()
        assert "A visitor is waiting for a person: Fernwood assistant" in text
        assert "https://parley.example/dashboard/" in text
        assert first["conversation_id"] in text
        assert "Jonas" not in text
        assert "4711" not in text
    finally:
        if server.loop.is_running():
            server.stop()
        await runtime.aclose()
