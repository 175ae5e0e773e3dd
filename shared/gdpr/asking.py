"""Who may ask about whom: turning a caller and what they named into a subject.

- A visitor (a bot's publishable key) names only themselves: their visitor id and the
  token the chat API issued. A wrong or missing token is not an error (that would tell a
  stranger which visitor ids exist): the request goes ahead, unverified, touching nothing.
- The shop (secret key or dashboard user) names a bot's visitor, a conversation, or a
  contact, within its own tenant; an operator (admin) within any, naming the tenant for a
  contact. Another tenant's bot or conversation is a 404, as everywhere in the API.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.auth.principal import Principal
from shared.chat.visitors import valid_token
from shared.db import bots, gdpr
from shared.db.pool import Conn
from shared.errors import NotFoundError, ValidationError
from shared.gdpr.receipts import Asked
from shared.gdpr.subjects import Subject, normalize_contact, visitor_hash
from shared.runtime import Runtime


async def subject_for(
    runtime: Runtime,
    conn: Conn,
    principal: Principal,
    caller_bot: dict[str, Any] | None,
    *,
    visitor_id: str | None,
    visitor_token: str | None,
    bot_id: UUID | None,
    conversation_id: UUID | None,
    contact: str | None,
    tenant_id: UUID | None,
) -> tuple[Subject, Asked]:
    if principal.credential == "publishable_key":
        assert caller_bot is not None
        if bot_id or conversation_id or contact or tenant_id:
            raise ValidationError(
                "A visitor names only themselves: visitor_id and visitor_token.",
                code="visitor_only",
            )
        if visitor_id is None:
            raise ValidationError("visitor_id: required", code="visitor_id_required")
        cipher = await runtime.cipher(conn, caller_bot["tenant_id"])
        proven = valid_token(
            cipher, bot_id=caller_bot["id"], visitor_id=visitor_id, token=visitor_token
        )
        subject = Subject("visitor", caller_bot["tenant_id"], visitor_id, caller_bot["id"])
        return subject, Asked("visitor", verified=proven)

    asked = Asked("admin" if principal.is_admin else "tenant")
    named = [bot_id is not None and visitor_id is not None, conversation_id is not None, contact]
    if sum(bool(n) for n in named) != 1 or (bot_id is None) != (visitor_id is None):
        raise ValidationError(
            "Name exactly one subject: bot_id with visitor_id, conversation_id, or contact.",
            code="one_subject",
        )
    if tenant_id is not None:
        principal.require_tenant(tenant_id)
    if bot_id is not None and visitor_id is not None:
        bot = await bots.get_bot(conn, scope=principal.scope, bot_id=bot_id)
        return Subject("visitor", bot["tenant_id"], visitor_id, bot["id"]), asked
    if conversation_id is not None:
        owner = await gdpr.conversation_tenant(conn, conversation_id=conversation_id)
        # Once erased, a conversation's tenant is only known from the caller (scope, or
        # tenant_id), so a repeated request still completes, with zero counts.
        owner = owner or principal.scope or tenant_id
        if owner is None or (principal.scope is not None and owner != principal.scope):
            raise NotFoundError("conversation", conversation_id)
        return Subject("conversation", owner, str(conversation_id)), asked
    assert contact is not None
    owner = principal.scope or tenant_id
    if owner is None:
        raise ValidationError(
            "tenant_id: required for an operator naming a contact", code="tenant_id_required"
        )
    return Subject("contact", owner, normalize_contact(contact)), asked


async def may_read(
    runtime: Runtime,
    conn: Conn,
    principal: Principal,
    row: dict[str, Any],
    *,
    visitor_id: str | None,
    visitor_token: str | None,
) -> bool:
    """Whether the caller may see this request's receipt (and download its export)."""
    if principal.credential != "publishable_key":
        return principal.scope is None or row["tenant_id"] == principal.scope
    bot_id = principal.bot_id
    if row["bot_id"] != bot_id or row["subject_kind"] != "visitor" or visitor_id is None:
        return False
    assert bot_id is not None
    cipher = await runtime.cipher(conn, row["tenant_id"])
    if not valid_token(cipher, bot_id=bot_id, visitor_id=visitor_id, token=visitor_token):
        return False
    return bytes(row["subject_hash"]) == visitor_hash(cipher, bot_id=bot_id, visitor_id=visitor_id)
