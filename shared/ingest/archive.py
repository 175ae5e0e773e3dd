"""Chat-log archiving: conversations past their bot's retention -> S3, then out of Postgres.

One object per tenant, bot and day: gzip JSONL sealed with the tenant's data key, at
``archives/<tenant>/<bot>/<day>/part-NNNN.jsonl.gz.enc``. The upload comes first; the
archive record and the deletion then commit together. A crash in between leaves the
conversations in place, and the next run writes the same object again (same part number,
since no record was made) before deleting them: nothing is lost, nothing archived twice.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from shared.crypto import DecryptionError, TenantCipher
from shared.db.pool import Conn
from shared.logging import get_logger
from shared.runtime import Runtime
from shared.storage.base import Storage

log = get_logger("parley.archive")

_DUE = """
SELECT c.bot_id, (c.last_message_at AT TIME ZONE 'UTC')::date AS day
  FROM conversations c JOIN bots b ON b.id = c.bot_id
 WHERE b.retention_days IS NOT NULL
   AND c.last_message_at < %(now)s - make_interval(days => b.retention_days)
 GROUP BY 1, 2 ORDER BY 2, 1
"""


async def _export_day(
    conn: Conn, cipher: TenantCipher, *, bot_id: UUID, day: date, now: datetime
) -> tuple[list[UUID], bytes, int]:
    cur = await conn.execute(
        "SELECT c.id, c.visitor_id, c.channel, c.started_at, c.last_message_at"
        " FROM conversations c JOIN bots b ON b.id = c.bot_id WHERE c.bot_id = %s"
        " AND (c.last_message_at AT TIME ZONE 'UTC')::date = %s"
        " AND c.last_message_at < %s - make_interval(days => b.retention_days) ORDER BY c.id",
        (bot_id, day, now),
    )
    conversations = await cur.fetchall()
    ids = [c["id"] for c in conversations]
    cur = await conn.execute(
        "SELECT conversation_id, role, content_enc, source, faq_id, provider, model,"
        " latency_ms, tokens_in, tokens_out, feedback, sources, created_at FROM messages"
        " WHERE conversation_id = ANY(%s) ORDER BY created_at, id",
        (ids,),
    )
    by_conversation: dict[UUID, list[dict[str, Any]]] = {i: [] for i in ids}
    count = 0
    for m in await cur.fetchall():
        try:
            text = cipher.decrypt(m.pop("content_enc"))
        except DecryptionError:
            text = None
        by_conversation[m.pop("conversation_id")].append({**m, "text": text})
        count += 1
    lines = [
        json.dumps({**c, "messages": by_conversation[c["id"]]}, default=str, ensure_ascii=False)
        for c in conversations
    ]
    return ids, gzip.compress("\n".join(lines).encode() + b"\n"), count


async def archive(
    runtime: Runtime,
    storage: Storage,
    *,
    now: datetime | None = None,
    after_upload: Callable[[str], Awaitable[None]] | None = None,
) -> dict[str, int]:
    """Archive every conversation past its bot's retention; returns counts."""
    now = now or datetime.now(UTC)
    totals = {"objects": 0, "conversations": 0, "messages": 0}
    async with runtime.db.connection() as conn:
        due = await (await conn.execute(_DUE, {"now": now})).fetchall()
    for item in due:
        async with runtime.db.connection() as conn:
            cur = await conn.execute(
                "SELECT b.slug AS bot, b.tenant_id, t.slug AS tenant FROM bots b"
                " JOIN tenants t ON t.id = b.tenant_id WHERE b.id = %s",
                (item["bot_id"],),
            )
            names = await cur.fetchone()
            if names is None:
                continue
            cipher = await runtime.cipher(conn, names["tenant_id"])
            ids, payload, messages = await _export_day(
                conn, cipher, bot_id=item["bot_id"], day=item["day"], now=now
            )
            cur = await conn.execute(
                "SELECT count(*) AS n FROM archives WHERE bot_id = %s AND day = %s",
                (item["bot_id"], item["day"]),
            )
            part = (await cur.fetchone() or {"n": 0})["n"]
        if not ids:
            continue
        key = (
            f"archives/{names['tenant']}/{names['bot']}/{item['day'].isoformat()}/"
            f"part-{part:04d}.jsonl.gz.enc"
        )
        await storage.put(key, cipher.seal(payload), "application/octet-stream")
        if after_upload is not None:
            await after_upload(key)
        async with runtime.db.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO archives (tenant_id, bot_id, day, object_key, conversation_count,"
                " message_count) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (object_key) DO NOTHING",
                (names["tenant_id"], item["bot_id"], item["day"], key, len(ids), messages),
            )
            await conn.execute("DELETE FROM conversations WHERE id = ANY(%s)", (ids,))
        log.info(
            "conversations archived",
            bot_id=str(item["bot_id"]),
            conversations=len(ids),
            object_key=key,
        )
        totals["objects"] += 1
        totals["conversations"] += len(ids)
        totals["messages"] += messages
    return totals


def read_archive(cipher: TenantCipher, blob: bytes) -> list[dict[str, Any]]:
    """The conversations in an archive object (for export and tests)."""
    text = gzip.decompress(cipher.unseal(blob)).decode()
    return [json.loads(line) for line in text.splitlines() if line]
