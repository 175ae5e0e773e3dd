"""Turn an ``Authorization: Bearer …`` header into a Principal, or refuse with 401/403."""

from __future__ import annotations

import hmac

from shared.auth.access import Access
from shared.auth.principal import Principal
from shared.auth.tokens import SESSION_PREFIX, api_key_prefix, hash_token
from shared.db import api_keys, sessions
from shared.db.pool import Conn
from shared.errors import ForbiddenError, UnauthorizedError


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(conn: Conn, token: str | None, access: Access) -> Principal:
    """The caller behind ``token``, checked against what ``access`` allows."""
    if token is None:
        raise UnauthorizedError("Send credentials as 'Authorization: Bearer <token>'.")
    principal = await _resolve(conn, token)
    if principal is None:
        raise UnauthorizedError("The credentials are invalid, expired or revoked.")
    if principal.credential not in access.credentials or principal.role not in access.roles:
        raise ForbiddenError("These credentials may not use this endpoint.")
    return principal


async def _resolve(conn: Conn, token: str) -> Principal | None:
    if token.startswith(SESSION_PREFIX):
        row = await sessions.lookup_session(conn, token_hash=hash_token(token))
        if row is None or row["disabled"]:
            return None
        return Principal(
            credential="session",
            role=row["role"],
            tenant_id=row["tenant_id"],
            user_id=row["user_id"],
            username=row["username"],
        )
    prefix = api_key_prefix(token)
    if prefix is None:
        return None
    row = await api_keys.lookup_key(conn, prefix=prefix)
    if row is None or not hmac.compare_digest(bytes(row["key_hash"]), hash_token(token)):
        return None
    if row["stale"]:
        await api_keys.touch_key(conn, key_id=row["id"])
    return Principal(
        credential="publishable_key" if row["kind"] == "publishable" else "secret_key",
        role=row["role"],
        tenant_id=row["tenant_id"],
        bot_id=row["bot_id"],
        key_id=row["id"],
    )
