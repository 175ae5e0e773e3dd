"""After a database restore: erase again what the tombstones say was erased.

The restored database may hold visitors erased after the backup was taken (and tenants
offboarded since). Tombstones live in object storage, which a database restore does not
touch; each names its subject by keyed hash only, so matching runs over the restored
rows' hashes. Safe to run at any time: with nothing restored, it finds nothing.
"""

from __future__ import annotations

from uuid import UUID

from shared.db import gdpr
from shared.gdpr import erasure, tombstones
from shared.gdpr.offboarding import offboard
from shared.gdpr.receipts import Asked, zero_counts
from shared.logging import get_logger
from shared.runtime import Runtime

log = get_logger("parley.gdpr")


async def replay(runtime: Runtime) -> dict[str, int]:
    """Re-apply every tombstone; what it erased again (``tenants``: offboarded again)."""
    totals = {**zero_counts(), "tombstones": 0, "tenants": 0}
    for stone in await tombstones.read_all(runtime.get_storage()):
        totals["tombstones"] += 1
        tenant_id = UUID(stone.tenant_id)
        async with runtime.db.connection() as conn:
            if await gdpr.tenant_inventory(conn, tenant_id=tenant_id) is None:
                continue  # the tenant is gone (or was never restored)
            if stone.kind == "tenant":
                found = None
            else:
                cipher = await runtime.cipher(conn, tenant_id)
                found = await erasure.find_tombstone(runtime, conn, cipher, stone)
        if found is None:
            await offboard(runtime, tenant_id, Asked("admin"))
            totals["tenants"] += 1
        elif found.conversation_ids:
            await erasure.erase(runtime, cipher, found, totals)
    log.info("gdpr tombstones replayed", **totals)
    return totals
