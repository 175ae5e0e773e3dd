"""Handoff to a person: conversation states, operator messages, the inbox, and what a
client that missed something asks for.

Every change to a conversation a visitor may be watching ends with ``pg_notify`` on
:data:`CHANNEL` carrying the conversation's id only (never text); the notification is
delivered when the transaction commits. A change locks the conversation's row before its
message gets a timestamp (``clock_timestamp()``), so messages of one conversation are
ordered as they were committed and "everything after message X" misses nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.db.pool import Conn
from shared.errors import ConflictError, NotFoundError

CHANNEL = "parley_conversation"


def _notify(column: str = "id") -> str:
    """Tell every listening process that this conversation changed (its id, no text)."""
    return f"pg_notify('{CHANNEL}', {column}::text)"


async def visitor_conversation(
    conn: Conn, *, bot_id: UUID, conversation_id: UUID
) -> dict[str, Any] | None:
    """The conversation's owner and state, if it is this bot's."""
    cur = await conn.execute(
        "SELECT id, tenant_id, bot_id, visitor_id, state FROM conversations"
        " WHERE id = %s AND bot_id = %s",
        (conversation_id, bot_id),
    )
    return await cur.fetchone()


async def new_conversation(
    conn: Conn, *, tenant_id: UUID, bot_id: UUID, visitor_id: str, channel: str
) -> UUID:
    """An empty conversation, for a visitor who asks for a person before asking the bot."""
    cur = await conn.execute(
        "INSERT INTO conversations (tenant_id, bot_id, visitor_id, channel)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (tenant_id, bot_id, visitor_id, channel),
    )
    row = await cur.fetchone()
    assert row is not None
    return UUID(str(row["id"]))


_REQUEST = f"""
WITH before AS (
    SELECT id, state FROM conversations WHERE id = %(id)s FOR UPDATE
),
changed AS (
    UPDATE conversations c
       SET state = CASE WHEN b.state IN ('bot', 'closed') THEN 'waiting' ELSE c.state END,
           waiting_since = CASE WHEN b.state IN ('bot', 'closed') THEN now()
                                ELSE c.waiting_since END,
           visitor_name_enc = coalesce(%(name_enc)s, c.visitor_name_enc),
           contact_enc = coalesce(%(contact_enc)s, c.contact_enc),
           contact_hash = coalesce(%(contact_hash)s, c.contact_hash)
      FROM before b WHERE c.id = b.id
    RETURNING c.id, c.bot_id, c.state, b.state AS was
),
notified AS (
    INSERT INTO handoff_notifications (bot_id, conversation_id, channel)
    SELECT bot_id, id, unnest(%(channels)s::text[]) FROM changed WHERE was <> state
    RETURNING id
)
SELECT state, was, (SELECT array_agg(id) FROM notified) AS notifications,
       {_notify()} FROM changed
"""


async def request_handoff(
    conn: Conn,
    *,
    conversation_id: UUID,
    name_enc: bytes | None,
    contact_enc: bytes | None,
    contact_hash: bytes | None,
    channels: list[str],
) -> dict[str, Any]:
    """``bot``/``closed`` -> ``waiting`` (one notification per channel, only on that change);
    a conversation already waiting or with a person keeps its state. Returns the new
    ``state``, what it ``was`` and the ids of the ``notifications`` to send."""
    cur = await conn.execute(
        _REQUEST,
        {
            "id": conversation_id,
            "name_enc": name_enc,
            "contact_enc": contact_enc,
            "contact_hash": contact_hash,
            "channels": channels,
        },
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("conversation", conversation_id)
    return row


_SCOPED = "c.id = %(id)s AND (%(scope)s::uuid IS NULL OR c.tenant_id = %(scope)s)"


async def _current(conn: Conn, scope: UUID | None, conversation_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(
        f"SELECT c.state, c.assigned_user_id, c.assigned_name FROM conversations c WHERE {_SCOPED}",
        {"id": conversation_id, "scope": scope},
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("conversation", conversation_id)
    return row


async def conversation_tenant(conn: Conn, *, scope: UUID | None, conversation_id: UUID) -> UUID:
    """The conversation's tenant; 404 unless the caller's scope holds it."""
    cur = await conn.execute(
        f"SELECT c.tenant_id FROM conversations c WHERE {_SCOPED}",
        {"id": conversation_id, "scope": scope},
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("conversation", conversation_id)
    return UUID(str(row["tenant_id"]))


async def take(
    conn: Conn,
    *,
    scope: UUID | None,
    conversation_id: UUID,
    user_id: UUID | None,
    name: str,
) -> dict[str, Any]:
    """The caller handles the conversation from now on (the bot stays silent). Taking one
    another person handles, or a closed one, is a 409 that says so."""
    cur = await conn.execute(
        f"UPDATE conversations c SET state = 'human', assigned_user_id = %(user)s,"
        f" assigned_name = %(name)s, waiting_since = coalesce(c.waiting_since, now())"
        f" WHERE {_SCOPED} AND c.state <> 'closed'"
        f" AND (c.state <> 'human' OR c.assigned_name IS NOT DISTINCT FROM %(name)s"
        f"      AND c.assigned_user_id IS NOT DISTINCT FROM %(user)s)"
        f" RETURNING c.id, c.state, {_notify('c.id')}",
        {"id": conversation_id, "scope": scope, "user": user_id, "name": name},
    )
    row = await cur.fetchone()
    if row is not None:
        return row
    current = await _current(conn, scope, conversation_id)
    if current["state"] == "closed":
        raise ConflictError("The conversation is closed.", code="conversation_closed")
    raise ConflictError(
        f"{current['assigned_name'] or 'Someone'} is handling this conversation;"
        " they can hand it back first.",
        code="conversation_taken",
    )


async def set_state(
    conn: Conn, *, scope: UUID | None, conversation_id: UUID, state: str
) -> dict[str, Any]:
    """Back to the bot (``bot``) or ``closed``: nobody handles it and nobody waits."""
    assert state in ("bot", "closed")
    cur = await conn.execute(
        f"UPDATE conversations c SET state = %(state)s, waiting_since = NULL,"
        f" assigned_user_id = NULL, assigned_name = NULL WHERE {_SCOPED}"
        f" RETURNING c.id, c.state, {_notify('c.id')}",
        {"id": conversation_id, "scope": scope, "state": state},
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFoundError("conversation", conversation_id)
    return row


_OPERATOR_MESSAGE = f"""
WITH conv AS (
    UPDATE conversations c
       SET state = 'human', assigned_user_id = coalesce(c.assigned_user_id, %(user)s),
           assigned_name = coalesce(c.assigned_name, %(name)s),
           waiting_since = coalesce(c.waiting_since, now()),
           message_count = c.message_count + 1, last_message_at = now()
     WHERE {_SCOPED} AND c.state <> 'closed'
    RETURNING c.id, c.bot_id, c.assigned_user_id, c.assigned_name, clock_timestamp() AS at
),
message AS (
    INSERT INTO messages (conversation_id, bot_id, role, content_enc, operator_id,
                          operator_name, created_at)
    SELECT id, bot_id, 'operator', %(text_enc)s, %(user)s,
           CASE WHEN %(chosen)s::text IS NOT NULL THEN %(chosen)s
                WHEN assigned_user_id IS NOT DISTINCT FROM %(user)s THEN assigned_name
                ELSE %(name)s END,
           at
      FROM conv
    RETURNING id, created_at, operator_name
)
SELECT m.id, m.created_at, m.operator_name, {_notify("c.id")}
  FROM message m, conv c
"""


async def add_operator_message(
    conn: Conn,
    *,
    scope: UUID | None,
    conversation_id: UUID,
    text_enc: bytes,
    user_id: UUID | None,
    name: str,
    chosen: str | None = None,
) -> dict[str, Any]:
    """An operator's reply; replying takes a conversation nobody handles yet. It is signed
    ``chosen``, else with the name the conversation was taken under (by this caller),
    else ``name``."""
    cur = await conn.execute(
        _OPERATOR_MESSAGE,
        {
            "id": conversation_id,
            "scope": scope,
            "text_enc": text_enc,
            "user": user_id,
            "name": name,
            "chosen": chosen,
        },
    )
    row = await cur.fetchone()
    if row is not None:
        return row
    await _current(conn, scope, conversation_id)  # 404 unless it exists in scope
    raise ConflictError("The conversation is closed.", code="conversation_closed")


async def messages_after(
    conn: Conn, *, conversation_id: UUID, after: UUID | None
) -> tuple[str, list[dict[str, Any]]]:
    """The conversation's state and its messages after ``after`` (all when None), text
    still encrypted, oldest first. An ``after`` that is not this conversation's message
    is a 404 (``message``)."""
    cur = await conn.execute(
        "SELECT c.state, (SELECT m.created_at FROM messages m WHERE m.id = %(after)s"
        "   AND m.conversation_id = c.id) AS after_at FROM conversations c WHERE c.id = %(id)s",
        {"id": conversation_id, "after": after},
    )
    head = await cur.fetchone()
    if head is None:
        raise NotFoundError("conversation", conversation_id)
    if after is not None and head["after_at"] is None:
        raise NotFoundError("message", after)
    cur = await conn.execute(
        "SELECT id, role, content_enc, source, operator_name, created_at FROM messages"
        " WHERE conversation_id = %(id)s AND (%(after)s::uuid IS NULL"
        "   OR (created_at, id) > (%(at)s, %(after)s)) ORDER BY created_at, id LIMIT 500",
        {"id": conversation_id, "after": after, "at": head["after_at"]},
    )
    return str(head["state"]), await cur.fetchall()


async def last_message_id(conn: Conn, *, conversation_id: UUID) -> UUID | None:
    cur = await conn.execute(
        "SELECT id FROM messages WHERE conversation_id = %s ORDER BY created_at DESC, id DESC"
        " LIMIT 1",
        (conversation_id,),
    )
    row = await cur.fetchone()
    return None if row is None else UUID(str(row["id"]))


async def inbox(conn: Conn, *, scope: UUID | None, bot_id: UUID | None) -> list[dict[str, Any]]:
    """Conversations waiting for a person (oldest waiting first), then those a person
    handles (longest handled first)."""
    cur = await conn.execute(
        "SELECT c.id, c.tenant_id, c.bot_id, b.name AS bot_name, c.state, c.waiting_since,"
        " c.assigned_user_id, c.assigned_name, c.visitor_name_enc, c.contact_enc,"
        " c.message_count, c.last_message_at, c.started_at"
        " FROM conversations c JOIN bots b ON b.id = c.bot_id"
        " WHERE c.state IN ('waiting', 'human')"
        " AND (%(scope)s::uuid IS NULL OR c.tenant_id = %(scope)s)"
        " AND (%(bot)s::uuid IS NULL OR c.bot_id = %(bot)s)"
        " ORDER BY c.state = 'human', c.waiting_since, c.id LIMIT 500",
        {"scope": scope, "bot": bot_id},
    )
    return await cur.fetchall()


# ----- notifications ----------------------------------------------------------------


async def due_notifications(conn: Conn, *, ids: list[UUID] | None, limit: int = 50) -> list[Any]:
    """Notifications to send now (these ``ids``, or every due one), locked so two
    processes do not send the same one; with what sending needs."""
    cur = await conn.execute(
        "SELECT n.id, n.channel, n.attempts, n.conversation_id, n.event, n.details,"
        " b.tenant_id, n.bot_id, b.name AS bot_name, b.handoff_webhook_url,"
        " b.handoff_webhook_secret_enc, b.handoff_email, c.waiting_since, c.state"
        " FROM handoff_notifications n LEFT JOIN conversations c ON c.id = n.conversation_id"
        " JOIN bots b ON b.id = n.bot_id"
        " WHERE n.delivered_at IS NULL AND n.next_attempt_at <= now()"
        " AND (%(ids)s::uuid[] IS NULL OR n.id = ANY(%(ids)s))"
        " ORDER BY n.next_attempt_at LIMIT %(limit)s FOR UPDATE OF n SKIP LOCKED",
        {"ids": ids, "limit": limit},
    )
    return await cur.fetchall()


async def notification_sent(conn: Conn, *, notification_id: UUID) -> None:
    await conn.execute(
        "UPDATE handoff_notifications SET delivered_at = now(), attempts = attempts + 1,"
        " last_error = NULL WHERE id = %s",
        (notification_id,),
    )


async def notification_failed(
    conn: Conn, *, notification_id: UUID, error: str, retry_in_seconds: float | None
) -> None:
    """A failed attempt: tried again later, or (``retry_in_seconds`` None) given up."""
    await conn.execute(
        "UPDATE handoff_notifications SET attempts = attempts + 1, last_error = %s,"
        " next_attempt_at = CASE WHEN %s::float8 IS NULL THEN 'infinity'::timestamptz"
        "   ELSE now() + make_interval(secs => %s::float8) END WHERE id = %s",
        (error[:500], retry_in_seconds, retry_in_seconds, notification_id),
    )
