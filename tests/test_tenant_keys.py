"""Tenant data keys under two locks: the master key and a KEK in object storage."""

from __future__ import annotations

import asyncio

from shared.crypto import TenantCipher, new_data_key
from shared.db import tenants
from shared.tenant_keys import tenant_cipher


async def _kek_objects(storage, tenant_id) -> list[str]:
    return [o.key async for o in storage.list(f"_parley/keys/{tenant_id}/")]


async def test_a_key_made_before_keks_gets_one_and_old_data_still_reads(runtime, conn):
    storage = runtime.get_storage()
    tenant_id = await tenants.ensure_tenant(conn, slug="legacy", name="Legacy")
    data_key = new_data_key()
    await conn.execute(
        "UPDATE tenants SET data_key_wrapped = %s, master_key_id = %s WHERE id = %s",
        (runtime.keyring.wrap(tenant_id, data_key), runtime.keyring.current_id, tenant_id),
    )
    blob = TenantCipher(tenant_id, data_key).encrypt("written before KEKs")
    assert await _kek_objects(storage, tenant_id) == []

    cipher = await tenant_cipher(conn, runtime.keyring, storage, tenant_id)
    assert cipher.decrypt(blob) == "written before KEKs"
    row = await tenants.key_row(conn, tenant_id=tenant_id)
    assert row["kek_id"] is not None
    assert len(await _kek_objects(storage, tenant_id)) == 1
    # the master key alone no longer opens the stored key
    outer = runtime.keyring.unwrap(tenant_id, bytes(row["data_key_wrapped"]), row["master_key_id"])
    assert outer != data_key
    again = await tenant_cipher(conn, runtime.keyring, storage, tenant_id)
    assert again.decrypt(blob) == "written before KEKs"


async def test_processes_making_a_tenants_first_key_at_once_agree_on_one(runtime, conn):
    storage = runtime.get_storage()
    tenant_id = await tenants.ensure_tenant(conn, slug="fresh", name="Fresh")

    async def first_use() -> TenantCipher:
        async with runtime.db.connection() as own:
            return await tenant_cipher(own, runtime.keyring, storage, tenant_id)

    ciphers = await asyncio.gather(*(first_use() for _ in range(4)))
    assert len({c.key_id for c in ciphers}) == 1
    assert len(await _kek_objects(storage, tenant_id)) == 1  # the losers removed theirs
    blob = ciphers[0].encrypt("x")
    assert all(c.decrypt(blob) == "x" for c in ciphers)
