"""A subject's conversations inside chat-log archives: finding, reading and cutting them out.

Archive objects are found through ``archive_conversations`` (keyed hashes only); objects
archived before that index existed are read and indexed on the first request. Cutting a
conversation out rewrites the object, re-sealed under the tenant's key, in place (or
deletes it when nothing is left), and only then drops its index rows: a crash in between
leaves the index pointing at an object that no longer holds the conversation, and the
re-run finds nothing left to cut and finishes the bookkeeping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from shared.crypto import TenantCipher
from shared.db import archives, gdpr
from shared.db.pool import Conn
from shared.gdpr.subjects import Subject, visitor_hash
from shared.ingest.archive import read_archive, seal_archive
from shared.storage.base import Storage


@dataclass
class ArchiveObject:
    archive_id: UUID
    key: str
    bot_id: UUID
    conversation_ids: set[UUID] = field(default_factory=set)


async def _read(storage: Storage, cipher: TenantCipher, key: str) -> list[dict[str, Any]] | None:
    """The object's conversations; None when the object is gone."""
    if await storage.head(key) is None:
        return None
    blob, _ = await storage.get(key)
    return read_archive(cipher, blob)


async def ensure_indexed(
    conn: Conn, storage: Storage, cipher: TenantCipher, *, tenant_id: UUID
) -> int:
    """Index the tenant's archives written before the index existed; how many were read."""
    pending = await gdpr.unindexed_archives(conn, tenant_id=tenant_id)
    for row in pending:
        held = await _read(storage, cipher, row["object_key"]) or []
        entries: list[archives.IndexEntry] = [
            (
                UUID(c["id"]),
                visitor_hash(cipher, bot_id=row["bot_id"], visitor_id=c["visitor_id"]),
                None,
            )
            for c in held
        ]
        await archives.index_archive(
            conn, archive_id=row["id"], tenant_id=tenant_id, entries=entries
        )
    return len(pending)


async def holding(
    conn: Conn, storage: Storage, cipher: TenantCipher, subject: Subject
) -> list[ArchiveObject]:
    """The archive objects that hold one of the subject's conversations."""
    await ensure_indexed(conn, storage, cipher, tenant_id=subject.tenant_id)
    if subject.kind == "conversation":
        rows = await gdpr.archived_conversations(
            conn, tenant_id=subject.tenant_id, conversation_ids=[UUID(subject.value)]
        )
    else:
        rows = await gdpr.archived_matches(
            conn, tenant_id=subject.tenant_id, hashes=[subject.hash(cipher)]
        )
    return group(rows)


def group(rows: list[dict[str, Any]]) -> list[ArchiveObject]:
    by_archive: dict[UUID, ArchiveObject] = {}
    for row in rows:
        found = by_archive.setdefault(
            row["archive_id"], ArchiveObject(row["archive_id"], row["object_key"], row["bot_id"])
        )
        found.conversation_ids.add(row["conversation_id"])
    return list(by_archive.values())


async def read_conversations(
    storage: Storage, cipher: TenantCipher, archived: list[ArchiveObject]
) -> list[dict[str, Any]]:
    """The subject's archived conversations, decrypted (for an export)."""
    out: list[dict[str, Any]] = []
    for obj in archived:
        for conversation in await _read(storage, cipher, obj.key) or []:
            if UUID(conversation["id"]) in obj.conversation_ids:
                out.append({**conversation, "bot_id": str(obj.bot_id)})
    return out


@dataclass(frozen=True)
class Cut:
    conversations: int = 0
    messages: int = 0
    objects: int = 0


async def cut_out(
    conn: Conn,
    storage: Storage,
    cipher: TenantCipher,
    obj: ArchiveObject,
    *,
    after_write: Callable[[str], Awaitable[None]] | None = None,
) -> Cut:
    """Rewrite one object without the subject's conversations, then update the index; in
    the caller's transaction. What was cut is read from the record, not the object, so a
    re-run after a crash counts what the first attempt cut too."""
    held_messages = await gdpr.lock_archive(conn, archive_id=obj.archive_id)
    if held_messages is None:
        return Cut()  # another erasure emptied and removed it meanwhile
    held = await _read(storage, cipher, obj.key) or []
    kept = [c for c in held if UUID(c["id"]) not in obj.conversation_ids]
    if len(kept) < len(held):
        if kept:
            await storage.put(obj.key, seal_archive(cipher, kept), "application/octet-stream")
        else:
            await storage.delete(obj.key)
        if after_write is not None:
            await after_write(obj.key)
    messages_left = sum(len(c.get("messages") or []) for c in kept)
    await gdpr.archive_rewritten(
        conn,
        archive_id=obj.archive_id,
        removed=sorted(obj.conversation_ids),
        conversations_left=len(kept),
        messages_left=messages_left,
    )
    return Cut(len(obj.conversation_ids), held_messages - messages_left, 1)
