"""Turn a bearer token into a Principal, or refuse with 401/403 — and count the request.

One statement resolves the credential, loads a publishable key's bot and counts the
request against the caller's limit (``shared.auth.limits``), so the chat path spends one
round trip on all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.auth.access import Access
from shared.auth.limits import (
    ADDRESS_CEILING,
    DEFAULT_CHAT_PER_MINUTE,
    PERIOD_SECONDS,
    limit_for,
)
from shared.auth.origins import origin_allowed
from shared.auth.principal import CredentialKind, Principal
from shared.auth.tokens import SESSION_PREFIX, api_key_prefix, hash_token
from shared.db import callers
from shared.db.pool import Conn
from shared.errors import ForbiddenError, UnauthorizedError
from shared.ratelimit import raise_if_limited


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@dataclass(frozen=True)
class Caller:
    principal: Principal
    bot: dict[str, Any] | None  # a publishable key's bot, checked against the origin


@dataclass(frozen=True)
class RequestFacts:
    """What the route knows about the request before it reads the body."""

    origin: str | None
    address: str
    api_per_minute: int
    # The visitor id a browser says it is (X-Parley-Visitor-Id): it picks the visitor's own
    # chat allowance; unproven, so the per-address ceiling is what bounds a liar.
    visitor: str | None = None


def _credential(token: str) -> tuple[CredentialKind, str] | None:
    """The kind of credential a token is and its public id (the key's lookup prefix,
    or a session's hash prefix), known before any lookup."""
    if token.startswith(SESSION_PREFIX):
        return "session", "session:" + hash_token(token).hex()[:16]
    prefix = api_key_prefix(token)
    if prefix is None:
        return None
    return ("publishable_key" if prefix.startswith("pk_") else "secret_key"), prefix


async def authenticate(
    conn: Conn, token: str | None, access: Access, facts: RequestFacts
) -> Caller:
    """The caller behind ``token``, checked against ``access``; its request counted."""
    if token is None:
        raise UnauthorizedError("Send credentials as 'Authorization: Bearer <token>'.")
    credential = _credential(token)
    if credential is None:
        raise _invalid()
    kind, credential_id = credential
    limit = limit_for(
        kind,
        credential_id,
        address=facts.address,
        api_per_minute=facts.api_per_minute,
        visitor_message=access.visitor_message,
        visitor=facts.visitor,
    )
    bucket = limit.bucket if limit is not None else None
    bot: dict[str, Any] | None = None
    if kind == "session":
        assert limit is not None  # a session's every request counts
        row = await callers.session_caller(
            conn,
            token_hash=hash_token(token),
            kinds=access.credentials,
            roles=access.roles,
            bucket=limit.bucket,
            per_minute=facts.api_per_minute,
            period=PERIOD_SECONDS,
        )
        if row is None or row["disabled"]:
            raise _invalid()
        principal = Principal(
            credential="session",
            role=row["role"],
            tenant_id=row["tenant_id"],
            user_id=row["user_id"],
            username=row["username"],
            credential_id=credential_id,
        )
    else:
        row = await callers.key_caller(
            conn,
            prefix=credential_id,
            key_hash=hash_token(token),
            kinds=access.credentials,
            roles=access.roles,
            origin=facts.origin,
            bucket=bucket,
            per_minute=limit.per_minute if limit is not None else None,
            default_per_minute=DEFAULT_CHAT_PER_MINUTE,
            period=PERIOD_SECONDS,
            ceiling=limit.ceiling if limit is not None else None,
            ceiling_factor=ADDRESS_CEILING,
        )
        if row is None:
            raise _invalid()
        principal = Principal(
            credential=kind,
            role=row["role"],
            tenant_id=row["tenant_id"],
            bot_id=row["bot_id"],
            key_id=row["key_id"],
            credential_id=credential_id,
        )
        bot = row["bot"]
    if principal.credential not in access.credentials or principal.role not in access.roles:
        raise ForbiddenError("These credentials may not use this endpoint.")
    if principal.credential == "publishable_key" and (
        bot is None or not origin_allowed(bot, facts.origin)
    ):
        raise ForbiddenError(
            "This site is not allowed to use this chat key.", code="origin_not_allowed"
        )
    raise_if_limited(row["wait"])
    return Caller(principal, bot)


def _invalid() -> UnauthorizedError:
    return UnauthorizedError("The credentials are invalid, expired or revoked.")
