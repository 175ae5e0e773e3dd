"""Telling a bot's team that a visitor waits (``conversation.waiting``), or that the bot
passed 80% of its monthly spending cap (``spend.alert``): a signed webhook and/or an e-mail.

Notifications are rows written with the state change (``handoff_notifications``), sent
right after it in the background and, when sending fails, retried with back-off by the
``notify`` job; a visitor's chat never waits for them. They carry ids and the bot's name,
never what the visitor wrote.

The webhook's body is JSON; its ``Parley-Signature`` header is ``t=<unix time>,v1=<hex>``
where ``v1`` is HMAC-SHA256 of ``"<t>." + body`` under the bot's webhook secret
(:func:`verify_signature` is how a receiver checks it, rejecting stale timestamps).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import smtplib
import socket
import time
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import httpx2

from shared.config import Settings
from shared.crypto import TenantCipher
from shared.db import handoff
from shared.db.pool import Database
from shared.logging import get_logger
from shared.web_address import web_address

log = get_logger("parley.handoff")

SIGNATURE_HEADER = "Parley-Signature"
EVENT = "conversation.waiting"
SPEND_ALERT = "spend.alert"
TOLERANCE_SECONDS = 300
# Seconds before each retry; after the last one the notification is given up.
BACKOFF = (10, 30, 120, 600, 1800, 3600)
TIMEOUT_SECONDS = 5.0


class DeliveryError(Exception):
    pass


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, body: bytes, header: str, *, now: float | None = None) -> bool:
    """A receiver's check: the signature matches and its timestamp is recent (no replay)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def event_body(row: dict[str, Any], dashboard_url: str | None) -> dict[str, Any]:
    spend_alert = row.get("event") == SPEND_ALERT
    common = {
        "type": SPEND_ALERT if spend_alert else EVENT,
        "id": str(row["id"]),
        "tenant_id": str(row["tenant_id"]),
        "bot_id": str(row["bot_id"]),
        "bot_name": row["bot_name"],
    }
    if spend_alert:  # the details: cap, currency, spent, share
        return {**common, **(row["details"] or {}), "dashboard_url": dashboard_url}
    return {
        **common,
        "conversation_id": str(row["conversation_id"]),
        "waiting_since": row["waiting_since"].isoformat() if row["waiting_since"] else None,
        "inbox_url": dashboard_url,
    }


async def _public_address(host: str) -> None:
    """Refuse a webhook host that resolves to a private, loopback or link-local address
    (another tenant's way into this network), unless the operator allows it."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise DeliveryError(f"{host} resolves to a non-public address")


async def send_webhook(
    settings: Settings, url: str, secret: str | None, body: dict[str, Any]
) -> None:
    parts = web_address(url)  # stored before the API checked, it may not parse at all
    if parts is None or parts.hostname is None:
        raise DeliveryError("the webhook URL is not a web address (http(s), with a host)")
    if not settings.webhooks_private:
        await _public_address(parts.hostname)
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "Parley-Event": body["type"]}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, raw, int(time.time()))
    try:
        async with httpx2.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await client.post(url, content=raw, headers=headers)
    except httpx2.HTTPError as exc:
        raise DeliveryError(f"webhook unreachable ({type(exc).__name__})") from None
    if response.status_code >= 300:
        raise DeliveryError(f"webhook answered HTTP {response.status_code}")


def _send_email(settings: Settings, to: str, body: dict[str, Any]) -> None:
    if not settings.smtp_host:
        raise DeliveryError("no SMTP server is configured (PARLEY_SMTP_HOST)")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    if body["type"] == SPEND_ALERT:
        message["Subject"] = f"{body['bot_name']} has used 80% of its monthly LLM budget"
        message.set_content(
            f"{body['bot_name']} has spent {body['spent']:.2f} {body['currency']} of its"
            f" monthly cap of {body['cap']:.2f} {body['currency']} on LLM answers this month."
            " At the cap it answers from its FAQ and documents without an LLM (and offers"
            " the handoff) until the month turns or the cap is raised in the bot's"
            " settings.\n"
        )
    else:
        where = (
            f"Answer in the dashboard's Inbox: {body['inbox_url']}"
            if body["inbox_url"]
            else ("Answer in the dashboard's Inbox.")
        )
        message["Subject"] = f"A visitor is waiting for a person: {body['bot_name']}"
        message.set_content(
            f"A visitor of {body['bot_name']} asked to talk to a person"
            f" (since {body['waiting_since']}).\n\n{where}\n\n"
            f"Conversation: {body['conversation_id']}\n"
        )
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"e-mail not sent ({type(exc).__name__})") from None


async def _deliver_one(settings: Settings, cipher: TenantCipher, row: dict[str, Any]) -> None:
    body = event_body(row, settings.dashboard_url)
    if row["channel"] == "webhook":
        if not row["handoff_webhook_url"]:
            raise DeliveryError("the bot has no webhook URL any more")
        secret = cipher.try_decrypt(row["handoff_webhook_secret_enc"])
        await send_webhook(settings, row["handoff_webhook_url"], secret, body)
    else:
        if not row["handoff_email"]:
            raise DeliveryError("the bot has no notification e-mail any more")
        await asyncio.to_thread(_send_email, settings, row["handoff_email"], body)


async def deliver(
    settings: Settings,
    db: Database,
    ciphers: Any,
    ids: Sequence[UUID] | None = None,
) -> dict[str, int]:
    """Send the due notifications (these ``ids``, or all due); record each outcome.
    ``ciphers(conn, tenant_id)`` opens a tenant's cipher (the webhook secret)."""
    sent = failed = 0
    async with db.connection() as conn, conn.transaction():
        rows = await handoff.due_notifications(conn, ids=list(ids) if ids is not None else None)
        for row in rows:
            cipher = await ciphers(conn, row["tenant_id"])
            try:
                await _deliver_one(settings, cipher, row)
            except DeliveryError as exc:
                failed += 1
                attempt = int(row["attempts"])
                retry = BACKOFF[attempt] if attempt < len(BACKOFF) else None
                log.warning(
                    "handoff notification failed",
                    channel=row["channel"],
                    bot_id=str(row["bot_id"]),
                    error=str(exc),
                    retry_in_seconds=retry,
                )
                await handoff.notification_failed(
                    conn, notification_id=row["id"], error=str(exc), retry_in_seconds=retry
                )
            else:
                sent += 1
                await handoff.notification_sent(conn, notification_id=row["id"])
    return {"sent": sent, "failed": failed}
