"""Erasing a subject everywhere: the answer cache, archive objects, then Postgres.

The order makes a re-run finish what a crash interrupted: the cache goes first and the
database rows last, because the rows (and the archive index) are how every earlier step
finds what to erase. Counts are saved after each step, so a resumed request reports what
it did in total.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from uuid import UUID

from shared.crypto import TenantCipher
from shared.db import gdpr
from shared.db.pool import Conn
from shared.gdpr import archived
from shared.gdpr.subjects import Subject, conversation_hash, conversations_of, visitor_hash
from shared.gdpr.tombstones import Tombstone
from shared.runtime import Runtime

AfterWrite = Callable[[str], Awaitable[None]]


@dataclass
class Found:
    """Where a subject's conversations are: rows in Postgres, objects in the archive."""

    in_database: list[UUID] = field(default_factory=list)
    in_archives: list[archived.ArchiveObject] = field(default_factory=list)

    @property
    def conversation_ids(self) -> set[UUID]:
        return set(self.in_database) | {i for a in self.in_archives for i in a.conversation_ids}


async def find(runtime: Runtime, conn: Conn, cipher: TenantCipher, subject: Subject) -> Found:
    rows = await conversations_of(conn, cipher, subject)
    objects = await archived.holding(conn, runtime.get_storage(), cipher, subject)
    return Found([r["id"] for r in rows], objects)


async def find_tombstone(
    runtime: Runtime, conn: Conn, cipher: TenantCipher, stone: Tombstone
) -> Found:
    """What a restored database holds of an erased subject, found by its hash alone."""
    tenant_id = cipher.tenant_id
    await archived.ensure_indexed(conn, runtime.get_storage(), cipher, tenant_id=tenant_id)
    target = stone.hash_bytes
    in_db = []
    for row in await gdpr.tenant_visitors(conn, tenant_id=tenant_id):
        if stone.kind == "visitor":
            hit = visitor_hash(cipher, bot_id=row["bot_id"], visitor_id=row["visitor_id"])
        elif stone.kind == "conversation":
            hit = conversation_hash(cipher, row["id"])
        else:
            hit = bytes(row["contact_hash"] or b"")
        if hit == target:
            in_db.append(row["id"])
    if stone.kind == "conversation":
        ids = [
            i
            for i in await gdpr.tenant_archived_ids(conn, tenant_id=tenant_id)
            if conversation_hash(cipher, i) == target
        ]
        rows = await gdpr.archived_conversations(conn, tenant_id=tenant_id, conversation_ids=ids)
    else:
        rows = await gdpr.archived_matches(conn, tenant_id=tenant_id, hashes=[target])
    return Found(in_db, archived.group(rows))


async def erase(
    runtime: Runtime,
    cipher: TenantCipher,
    found: Found,
    counts: dict[str, int],
    *,
    request_id: UUID | None = None,
    after_archive_write: AfterWrite | None = None,
) -> dict[str, int]:
    """Erase what ``found`` names; ``counts`` is updated (and saved with ``request_id``)."""

    async def save(conn: Conn) -> None:
        if request_id is not None:
            await gdpr.save_counts(conn, request_id=request_id, counts=counts)

    cache = runtime.get_cache()
    for conversation_id in sorted(found.conversation_ids):
        counts["cache_entries"] += cache.forget_conversation(conversation_id)
    cache.scrub()
    async with runtime.db.connection() as conn:
        await save(conn)
    storage = runtime.get_storage()
    for obj in found.in_archives:
        async with runtime.db.connection() as conn, conn.transaction():
            cut = await archived.cut_out(
                conn, storage, cipher, obj, after_write=after_archive_write
            )
            counts["archive_objects"] += cut.objects
            counts["conversations"] += cut.conversations
            counts["messages"] += cut.messages
            await save(conn)
    async with runtime.db.connection() as conn, conn.transaction():
        conversations, messages = await gdpr.delete_conversations(
            conn, conversation_ids=found.in_database
        )
        counts["conversations"] += conversations
        counts["messages"] += messages
        await save(conn)
    return counts
