"""Tombstones: the erased subjects, kept in object storage so they outlive a database restore.

A database backup taken before an erasure still holds the erased visitor. Each completed
erasure (and each tenant offboarding) therefore leaves a small JSON object under
``_parley/gdpr/tombstones/<tenant>/<request>.json`` with the subject's keyed hash and no
personal data; ``parley gdpr replay`` reads them after a restore and erases again
whatever the restored database brought back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from uuid import UUID

from shared.storage import keys
from shared.storage.base import Storage


@dataclass(frozen=True)
class Tombstone:
    request_id: str
    tenant_id: str
    kind: str  # visitor, conversation, contact, or tenant (offboarded)
    subject_hash: str  # hex; empty for a tenant
    erased_at: str

    @property
    def hash_bytes(self) -> bytes:
        return bytes.fromhex(self.subject_hash)


async def record(
    storage: Storage,
    *,
    request_id: UUID,
    tenant_id: UUID,
    kind: str,
    subject_hash: bytes,
    erased_at: datetime,
) -> None:
    stone = Tombstone(
        str(request_id), str(tenant_id), kind, subject_hash.hex(), erased_at.isoformat()
    )
    await storage.put(
        keys.tombstone_key(tenant_id, request_id),
        json.dumps(asdict(stone)).encode(),
        "application/json",
    )


async def read_all(storage: Storage) -> list[Tombstone]:
    """Every tombstone, oldest erasure first."""
    found = []
    async for obj in storage.list(keys.TOMBSTONES):
        blob, _ = await storage.get(obj.key)
        found.append(Tombstone(**json.loads(blob)))
    return sorted(found, key=lambda t: t.erased_at)


async def forget_tenant(storage: Storage, *, tenant_id: UUID, keep: UUID) -> None:
    """Drop a deleted tenant's subject tombstones (their hashes died with its key); the
    tenant's own tombstone (``keep``) stays."""
    async for obj in storage.list(f"{keys.TOMBSTONES}{tenant_id}/"):
        if obj.key != keys.tombstone_key(tenant_id, keep):
            await storage.delete(obj.key)
