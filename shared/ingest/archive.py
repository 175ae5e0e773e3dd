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

from shared.crypto import TenantCipher
from shared.db import archives
from shared.db.pool import Conn
from shared.gdpr.subjects import visitor_hash
from shared.logging import get_logger
from shared.runtime import Runtime
from shared.storage import keys
from shared.storage.base import Storage

log = get_logger("parley.archive")


async def _export_day(
    conn: Conn, cipher: TenantCipher, *, bot_id: UUID, day: date, now: datetime
) -> tuple[list[archives.IndexEntry], list[dict[str, Any]], int]:
    conversations = await archives.due_conversations(conn, bot_id=bot_id, day=day, now=now)
    ids = [c["id"] for c in conversations]
    entries = [
        (
            c["id"],
            visitor_hash(cipher, bot_id=bot_id, visitor_id=c["visitor_id"]),
            c.pop("contact_hash"),
        )
        for c in conversations
    ]
    by_conversation: dict[UUID, list[dict[str, Any]]] = {i: [] for i in ids}
    count = 0
    for m in await archives.messages_of(conn, conversation_ids=ids):
        conversation = m.pop("conversation_id")
        text = cipher.try_decrypt(m.pop("content_enc"))
        comment = cipher.try_decrypt(m.pop("feedback_comment_enc"))
        by_conversation[conversation].append({**m, "text": text, "feedback_comment": comment})
        count += 1
    return entries, [{**c, "messages": by_conversation[c["id"]]} for c in conversations], count


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
        due = await archives.due(conn, now=now)
    for item in due:
        async with runtime.db.connection() as conn:
            names = await archives.names(conn, bot_id=item["bot_id"])
            if names is None:
                continue
            cipher = await runtime.cipher(conn, names["tenant_id"])
            entries, held, messages = await _export_day(
                conn, cipher, bot_id=item["bot_id"], day=item["day"], now=now
            )
            part = await archives.parts_recorded(conn, bot_id=item["bot_id"], day=item["day"])
        if not entries:
            continue
        key = (
            keys.archive_prefix(names["tenant"], names["bot"], item["day"])
            + f"part-{part:04d}.jsonl.gz.enc"
        )
        await storage.put(key, seal_archive(cipher, held), "application/octet-stream")
        if after_upload is not None:
            await after_upload(key)
        async with runtime.db.connection() as conn:
            await archives.record_and_delete(
                conn,
                tenant_id=names["tenant_id"],
                bot_id=item["bot_id"],
                day=item["day"],
                object_key=key,
                entries=entries,
                message_count=messages,
            )
        log.info(
            "conversations archived",
            bot_id=str(item["bot_id"]),
            conversations=len(entries),
            object_key=key,
        )
        totals["objects"] += 1
        totals["conversations"] += len(entries)
        totals["messages"] += messages
    return totals


def read_archive(cipher: TenantCipher, blob: bytes) -> list[dict[str, Any]]:
    """The conversations in an archive object (for export and tests)."""
    text = gzip.decompress(cipher.unseal(blob)).decode()
    return [json.loads(line) for line in text.splitlines() if line]


def seal_archive(cipher: TenantCipher, conversations: list[dict[str, Any]]) -> bytes:
    """An archive object holding ``conversations`` (read back by :func:`read_archive`)."""
    lines = [json.dumps(c, default=str, ensure_ascii=False) for c in conversations]
    return cipher.seal(gzip.compress("\n".join(lines).encode() + b"\n"))
