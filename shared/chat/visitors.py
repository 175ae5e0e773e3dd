"""Visitor ids and the tokens that prove a visitor owns their conversations.

A token is a MAC of the bot and visitor id under the tenant's data key, so no table is
needed, tokens survive master-key rotations, and one bot's token is worthless on another.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from uuid import UUID

from shared.crypto import TenantCipher

PREFIX = "vt_"


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(16)


def issue_token(cipher: TenantCipher, *, bot_id: UUID, visitor_id: str) -> str:
    mac = cipher.mac(f"visitor:{bot_id}:{visitor_id}")
    return PREFIX + base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def valid_token(cipher: TenantCipher, *, bot_id: UUID, visitor_id: str, token: str | None) -> bool:
    if not token:
        return False
    return hmac.compare_digest(token, issue_token(cipher, bot_id=bot_id, visitor_id=visitor_id))


def proven_visitor(
    cipher: TenantCipher,
    *,
    bot_id: UUID,
    visitor_id: str | None,
    token: str | None,
    trusted: bool,
) -> str | None:
    """The visitor id the caller has proven it speaks for, else None.

    A browser proves it with the token the chat API issued; a secret-key caller (a server)
    vouches for its own ids. Chat and feedback both ask this, and nothing else."""
    if visitor_id is None:
        return None
    if trusted or valid_token(cipher, bot_id=bot_id, visitor_id=visitor_id, token=token):
        return visitor_id
    return None
