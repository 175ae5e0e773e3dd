"""Tenant offboarding: everything a tenant left, everywhere, and its key shredded.

In order, each step safe to repeat (``parley gdpr run`` finishes an interrupted one): the
audit row; the tenant's objects in storage (documents, archives, waiting exports); its
answer-cache entries; a tombstone so a restored backup cannot bring it back; its
key-encryption keys (from then on every ciphertext of theirs, in any backup, is noise);
then its rows. The audit row stays, with counts and no personal data.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

from shared.db import gdpr, tenants
from shared.gdpr import tombstones
from shared.gdpr.receipts import Asked, zero_counts
from shared.logging import get_logger
from shared.runtime import Runtime
from shared.storage import keys
from shared.tenant_keys import shred

log = get_logger("parley.gdpr")


def tenant_hash(tenant_id: UUID) -> bytes:
    return hashlib.sha256(b"parley tenant:" + tenant_id.bytes).digest()


async def offboard(
    runtime: Runtime, tenant_id: UUID, asked: Asked, *, row: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Delete the tenant everywhere; the audit row (``row`` continues an interrupted one)."""
    storage, cache = runtime.get_storage(), runtime.get_cache()
    async with runtime.db.connection() as conn:
        inventory = await gdpr.tenant_inventory(conn, tenant_id=tenant_id)
        if row is None:
            row = await gdpr.create_request(
                conn,
                tenant_id=tenant_id,
                bot_id=None,
                kind="offboarding",
                subject_kind="tenant",
                subject_hash=tenant_hash(tenant_id),
                subject_sealed=tenant_id.bytes,
                requested_by=asked.by,
            )
    counts = {**zero_counts(), "stored_objects": 0, **(row["counts"] or {})}
    if inventory is not None:
        for name in ("conversations", "messages", "archive_objects"):
            counts[name] = int(inventory[name])
        doomed = {
            uri.removeprefix(storage.uri(""))
            for uri in inventory["document_uris"]
            if uri.startswith(storage.uri(""))
        }
        for prefix in keys.tenant_prefixes(inventory["slug"], tenant_id):
            doomed |= {obj.key async for obj in storage.list(prefix)}
        for key in sorted(doomed):
            await storage.delete(key)
        counts["stored_objects"] += len(doomed)
        counts["cache_entries"] += cache.forget_bots(set(inventory["bot_ids"]))
        cache.scrub()
        async with runtime.db.connection() as conn:
            await gdpr.save_counts(conn, request_id=row["id"], counts=counts)
    await tombstones.record(
        storage,
        request_id=row["id"],
        tenant_id=tenant_id,
        kind="tenant",
        subject_hash=b"",
        erased_at=row["received_at"],
    )
    await tombstones.forget_tenant(storage, tenant_id=tenant_id, keep=row["id"])
    await shred(storage, tenant_id)
    runtime.forget_cipher(tenant_id)
    async with runtime.db.connection() as conn, conn.transaction():
        if inventory is not None:
            await tenants.delete_tenant(conn, tenant_id=tenant_id)
        done = await gdpr.complete_request(conn, request_id=row["id"], counts=counts)
    log.info("tenant offboarded", request_id=str(row["id"]), **counts)
    return done
