"""Encryption at rest: envelope keys per tenant, tenant binding, rotation without re-encryption."""

from __future__ import annotations

import os
import uuid

import pytest

from shared.crypto import DecryptionError, Keyring, TenantCipher, new_data_key
from shared.db import tenants
from shared.masterkey import MasterKeyMismatchError, rotate_master_key, verify_master_key
from shared.tenant_keys import tenant_cipher


def test_round_trip_and_tenant_binding():
    a, b = uuid.uuid4(), uuid.uuid4()
    key = new_data_key()
    cipher = TenantCipher(a, key)
    blob = cipher.encrypt("Meine Bestellung ist nicht angekommen ✉")
    assert b"Bestellung" not in blob
    assert cipher.decrypt(blob) == "Meine Bestellung ist nicht angekommen ✉"
    assert cipher.encrypt("same") != cipher.encrypt("same")  # fresh nonce each time
    with pytest.raises(DecryptionError):
        TenantCipher(b, key).decrypt(blob)  # same key, other tenant: refused
    with pytest.raises(DecryptionError):
        TenantCipher(a, new_data_key()).decrypt(blob)
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes(tampered))


def test_wrapped_key_needs_the_right_master_and_tenant():
    tenant = uuid.uuid4()
    old, new = Keyring(os.urandom(32)), Keyring(os.urandom(32))
    wrapped = old.wrap(tenant, b"k" * 32)
    assert old.unwrap(tenant, wrapped, old.current_id) == b"k" * 32
    with pytest.raises(DecryptionError, match="not configured"):
        new.unwrap(tenant, wrapped, old.current_id)
    with pytest.raises(DecryptionError):
        old.unwrap(uuid.uuid4(), wrapped, old.current_id)


async def test_rotation_rewraps_tenant_keys_and_old_data_still_decrypts(conn, runtime):
    await verify_master_key(conn, runtime.keyring)
    t1 = await tenants.ensure_tenant(conn, slug="shop-one", name="One")
    t2 = await tenants.ensure_tenant(conn, slug="shop-two", name="Two")
    blobs = {t: (await runtime.cipher(conn, t)).encrypt(f"secret of {t}") for t in (t1, t2)}
    cur = await conn.execute("SELECT data_key_wrapped FROM tenants WHERE id = %s", (t1,))
    wrapped_before = bytes((await cur.fetchone())["data_key_wrapped"])

    old = runtime.keyring.current
    new_keyring = Keyring(os.urandom(32), previous=[old])
    assert await rotate_master_key(conn, new_keyring) == 2
    assert await rotate_master_key(conn, new_keyring) == 0  # nothing left to rewrap

    cur = await conn.execute(
        "SELECT data_key_wrapped, master_key_id FROM tenants WHERE id = %s", (t1,)
    )
    row = await cur.fetchone()
    assert bytes(row["data_key_wrapped"]) != wrapped_before
    assert row["master_key_id"] == new_keyring.current_id

    only_new = Keyring(new_keyring.current)
    for tenant, blob in blobs.items():
        cipher = await tenant_cipher(conn, only_new, runtime.get_storage(), tenant)
        assert cipher.decrypt(blob) == f"secret of {tenant}"
    await verify_master_key(conn, only_new)
    with pytest.raises(MasterKeyMismatchError):
        await verify_master_key(conn, Keyring(old))  # the retired key is refused now
