"""The visitor's side of a handoff: asking for a person, and reading what was said since.

Both prove the visitor as chat does (the visitor token, or a secret-key caller vouching
for its own visitors); another visitor's or bot's conversation is a 404. The name and
e-mail a visitor leaves are stored encrypted, the e-mail with its keyed hash so a GDPR
request by e-mail finds the conversation.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.auth.principal import Principal
from shared.chat import visitors
from shared.chat.turn import channel_of, vouches_for_visitors
from shared.crypto import DecryptionError, TenantCipher
from shared.db import handoff
from shared.db.pool import Conn
from shared.errors import ConflictError, NotFoundError, UnauthorizedError, ValidationError
from shared.gdpr.subjects import contact_hash, normalize_contact
from shared.handoff import notify
from shared.handoff.hours import availability
from shared.runtime import Runtime

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_sending: set[asyncio.Task[Any]] = set()


@dataclass(frozen=True)
class Visitor:
    """Who may read and change this conversation: its owner, proven."""

    conversation_id: UUID
    visitor_id: str
    visitor_token: str
    state: str


async def prove(
    conn: Conn,
    cipher: TenantCipher,
    bot: dict[str, Any],
    *,
    conversation_id: UUID,
    visitor_token: str | None,
    visitor_id: str | None,
    trusted: bool,
) -> Visitor:
    row = await handoff.visitor_conversation(
        conn, bot_id=bot["id"], conversation_id=conversation_id
    )
    if row is None or (visitor_id is not None and visitor_id != row["visitor_id"]):
        raise NotFoundError("conversation", conversation_id)
    owner = row["visitor_id"]
    if not trusted and not visitors.valid_token(
        cipher, bot_id=bot["id"], visitor_id=owner, token=visitor_token
    ):
        raise NotFoundError("conversation", conversation_id)
    token = visitors.issue_token(cipher, bot_id=bot["id"], visitor_id=owner)
    return Visitor(conversation_id, owner, token, str(row["state"]))


async def visitor_for(
    conn: Conn,
    cipher: TenantCipher,
    bot: dict[str, Any],
    *,
    conversation_id: UUID | None,
    visitor_token: str | None,
    visitor_id: str | None,
    trusted: bool,
    channel: str,
) -> Visitor:
    """The proven owner of ``conversation_id``; without one, a new conversation for this
    visitor (proven, or new), as when a visitor asks for a person before asking the bot."""
    if conversation_id is not None:
        return await prove(
            conn,
            cipher,
            bot,
            conversation_id=conversation_id,
            visitor_token=visitor_token,
            visitor_id=visitor_id,
            trusted=trusted,
        )
    owner = visitors.proven_visitor(
        cipher, bot_id=bot["id"], visitor_id=visitor_id, token=visitor_token, trusted=trusted
    )
    if owner is None:
        if visitor_id is not None:
            raise UnauthorizedError(
                "visitor_token is missing or does not match visitor_id.",
                code="invalid_visitor_token",
            )
        owner = visitors.new_visitor_id()
    created = await handoff.new_conversation(
        conn, tenant_id=bot["tenant_id"], bot_id=bot["id"], visitor_id=owner, channel=channel
    )
    token = visitors.issue_token(cipher, bot_id=bot["id"], visitor_id=owner)
    return Visitor(created, owner, token, "bot")


def channels(bot: dict[str, Any]) -> list[str]:
    """How the bot's team is told a visitor waits."""
    chosen = []
    if bot.get("handoff_webhook_url"):
        chosen.append("webhook")
    if bot.get("handoff_email"):
        chosen.append("email")
    return chosen


def _allowed(bot: dict[str, Any], email: str | None) -> dict[str, Any]:
    """Whether this request may go ahead (before anything is stored): the bot hands over
    at all, and outside business hours the visitor left an e-mail address. The bot's
    availability, for the answer."""
    if not bot.get("handoff_enabled", True):
        raise ConflictError(
            "This bot does not hand conversations to a person.", code="handoff_disabled"
        )
    hours = availability(bot)
    if email is not None and not EMAIL.match(email.strip()):
        raise ValidationError("email: not an e-mail address")
    if not hours["available"] and email is None:
        raise ValidationError(
            "email: required outside business hours, so the team can answer later",
            code="email_required",
            details={"opens_at": hours["opens_at"], "hours": hours["hours"]},
        )
    return hours


async def _request_person(
    runtime: Runtime,
    conn: Conn,
    cipher: TenantCipher,
    bot: dict[str, Any],
    visitor: Visitor,
    hours: dict[str, Any],
    *,
    name: str | None,
    email: str | None,
) -> dict[str, Any]:
    """The conversation waits for a person (or keeps the one it has); the team is told."""
    contact = normalize_contact(email) if email else None
    row = await handoff.request_handoff(
        conn,
        conversation_id=visitor.conversation_id,
        name_enc=cipher.encrypt(name.strip()) if name and name.strip() else None,
        contact_enc=cipher.encrypt(contact) if contact else None,
        contact_hash=contact_hash(cipher, contact) if contact else None,
        channels=channels(bot),
    )
    if row["notifications"]:
        _send_soon(runtime, list(row["notifications"]))
    return {
        "conversation_id": str(visitor.conversation_id),
        "state": row["state"],
        "visitor_id": visitor.visitor_id,
        "visitor_token": visitor.visitor_token,
        **hours,
    }


@dataclass(frozen=True)
class Ask:
    """A visitor's request for a person, as the HTTP body or the socket's frame has it."""

    conversation_id: UUID | None
    visitor_token: str | None
    visitor_id: str | None
    name: str | None
    email: str | None


async def ask_for_person(
    runtime: Runtime, conn: Conn, bot: dict[str, Any], principal: Principal, ask: Ask
) -> tuple[Visitor, dict[str, Any]]:
    """Prove (or make) the visitor's conversation and have it wait for a person: the
    visitor and the status the caller answers with."""
    hours = _allowed(bot, ask.email)
    cipher = await runtime.cipher(conn, bot["tenant_id"])
    visitor = await visitor_for(
        conn,
        cipher,
        bot,
        conversation_id=ask.conversation_id,
        visitor_token=ask.visitor_token,
        visitor_id=ask.visitor_id,
        trusted=vouches_for_visitors(principal),
        channel=channel_of(principal),
    )
    status = await _request_person(
        runtime, conn, cipher, bot, visitor, hours, name=ask.name, email=ask.email
    )
    return visitor, status


def _send_soon(runtime: Runtime, ids: list[UUID]) -> None:
    """Send in the background (the state change is committed: connections autocommit);
    the ``notify`` job retries what fails."""

    async def send() -> None:
        try:
            await notify.deliver(runtime.settings, runtime.db, runtime.cipher, ids)
        except Exception as exc:  # never the visitor's problem; the job retries
            notify.log.warning("handoff notification deferred", error=type(exc).__name__)

    task = asyncio.create_task(send())
    _sending.add(task)
    task.add_done_callback(_sending.discard)


def public_message(cipher: TenantCipher, row: dict[str, Any]) -> dict[str, Any]:
    try:
        text = cipher.decrypt(row["content_enc"])
    except DecryptionError:
        text = ""
    message: dict[str, Any] = {
        "message_id": str(row["id"]),
        "role": row["role"],
        "text": text,
        "created_at": row["created_at"].isoformat(),
    }
    if row["role"] == "operator":
        message["operator"] = row["operator_name"]
    return message


async def updates(
    conn: Conn, cipher: TenantCipher, conversation_id: UUID, after: UUID | None
) -> dict[str, Any]:
    """The conversation's state and what was said after message ``after``."""
    state, rows = await handoff.messages_after(conn, conversation_id=conversation_id, after=after)
    return {
        "conversation_id": str(conversation_id),
        "state": state,
        "messages": [public_message(cipher, r) for r in rows],
    }


def operator_frame(message: dict[str, Any]) -> dict[str, Any]:
    """An operator's message as the visitor's socket receives it."""
    return {
        "type": "operator_message",
        "text": message["text"],
        "operator": message.get("operator"),
        "message_id": message["message_id"],
    }
