"""Who is calling: a credential resolved, its bot loaded and its request counted, in one
statement (the chat path's first and only round trip before the question is answered).

Both statements count the request (``parley_rate_check``) only when the credential is
live and allowed for the endpoint, and for a publishable key only from one of its bot's
allowed origins and when there is a bucket; otherwise ``wait`` is NULL: nothing counted.
"""

from __future__ import annotations

from typing import Any

from shared.db import bots, sessions
from shared.db.pool import Conn

_BOT_COLUMNS = [c.strip() for c in bots.COLUMNS.split(",")]
_BOT = ", ".join(f"b.{c} AS bot__{c}" for c in _BOT_COLUMNS)
_INTERVAL = (
    "make_interval(secs => %(period)s::float8"
    " / coalesce(%(per_minute)s, b.rate_limit_per_minute, %(default_per_minute)s))"
)

_KEY = f"""
WITH k AS (
    SELECT id, tenant_id, bot_id, kind, role,
           last_used_at IS NULL OR last_used_at < now() - interval '60 seconds' AS stale
      FROM api_keys
     WHERE prefix = %(prefix)s AND key_hash = %(hash)s AND revoked_at IS NULL
       AND (expires_at IS NULL OR expires_at > now())
),
touched AS (
    UPDATE api_keys a SET last_used_at = now() FROM k WHERE a.id = k.id AND k.stale
)
SELECT k.id AS key_id, k.tenant_id, k.bot_id, k.kind, k.role, {_BOT},
       CASE WHEN %(bucket)s::text IS NOT NULL AND k.role = ANY(%(roles)s)
             AND k.kind = ANY(%(kinds)s)
             AND (k.kind <> 'publishable' OR lower(rtrim(%(origin)s, '/')) = ANY(b.allowed_origins))
            THEN parley_rate_check_under(%(bucket)s, {_INTERVAL}, %(ceiling)s,
                                         {_INTERVAL} / %(ceiling_factor)s::float8,
                                         make_interval(secs => %(period)s))
       END AS wait
  FROM k LEFT JOIN bots b ON k.kind = 'publishable' AND b.id = k.bot_id
"""

_SESSION = """
SELECT s.expires_at > now() AS live, u.id AS user_id, u.username, u.role, u.tenant_id,
       u.disabled,
       CASE WHEN s.expires_at > now() AND NOT u.disabled AND u.role = ANY(%(roles)s)
                 AND 'session' = ANY(%(kinds)s)
            THEN parley_rate_check(%(bucket)s,
                                   make_interval(secs => %(period)s::float8 / %(per_minute)s),
                                   make_interval(secs => %(period)s))
       END AS wait
  FROM sessions s JOIN users u ON u.id = s.user_id
 WHERE s.token_hash = %(hash)s
"""


def _params(**values: Any) -> dict[str, Any]:
    values["kinds"] = sorted(values["kinds"])
    values["roles"] = sorted(values["roles"])
    return values


async def key_caller(
    conn: Conn,
    *,
    prefix: str,
    key_hash: bytes,
    kinds: frozenset[str],
    roles: frozenset[str],
    origin: str | None,
    bucket: str | None,
    per_minute: int | None,
    default_per_minute: int,
    period: float,
    ceiling: str | None = None,
    ceiling_factor: int = 1,
) -> dict[str, Any] | None:
    """The live key with its bot (``bot`` is None unless publishable) and ``wait`` (the
    request counted against ``bucket`` and, at ``ceiling_factor`` x the rate, ``ceiling``)."""
    cur = await conn.execute(
        _KEY,
        _params(
            prefix=prefix,
            hash=key_hash,
            kinds={"publishable" if k == "publishable_key" else "secret" for k in kinds},
            roles=roles,
            origin=origin or "",
            bucket=bucket,
            per_minute=per_minute,
            default_per_minute=default_per_minute,
            period=period,
            ceiling=ceiling,
            ceiling_factor=ceiling_factor,
        ),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    bot = {c: row.pop(f"bot__{c}") for c in _BOT_COLUMNS}
    row["bot"] = bot if bot["id"] is not None else None
    return row


async def session_caller(
    conn: Conn,
    *,
    token_hash: bytes,
    kinds: frozenset[str],
    roles: frozenset[str],
    bucket: str,
    per_minute: int,
    period: float,
) -> dict[str, Any] | None:
    """The session's user and ``wait``; an expired session is deleted on sight."""
    cur = await conn.execute(
        _SESSION,
        _params(
            hash=token_hash,
            kinds=kinds,
            roles=roles,
            bucket=bucket,
            per_minute=per_minute,
            period=period,
        ),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    if not row["live"]:
        await sessions.delete_session(conn, token_hash=token_hash)
        return None
    return row
