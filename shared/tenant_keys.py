"""Tenant data keys: two locks, so deleting one object crypto-shreds a tenant, backups too.

    stored in tenants.data_key_wrapped = master.wrap(KEK.seal(data key))

The master key (outside the database) opens the outer layer; the tenant's key-encryption
key (KEK), 32 random bytes in object storage at ``_parley/keys/<tenant>/<kek_id>.key``,
opens the inner one. A database backup alone, even with the master key, opens nothing
once offboarding has deleted the KEK object. Rotating the master key rewraps the outer
layer only (shared.masterkey); data and KEKs are untouched.

Keys made before KEKs existed (one layer) get one on first use, with the same data key,
so no data is re-encrypted; backups taken before that upgrade stay readable with the
master key. Losing the KEK objects loses the tenant's data: back the ``_parley/keys/``
prefix up apart from the database, and never version it (docs/gdpr.md).
"""

from __future__ import annotations

import secrets
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.crypto import DecryptionError, Keyring, TenantCipher, new_data_key
from shared.db import tenants
from shared.db.pool import Conn
from shared.storage import keys
from shared.storage.base import Storage, StorageError

_NONCE = 12


def _kek_key(tenant_id: UUID, kek_id: str) -> str:
    return f"{keys.kek_prefix(tenant_id)}{kek_id}.key"


def _aad(tenant_id: UUID) -> bytes:
    return b"parley kek:" + tenant_id.bytes


def _seal(kek: bytes, tenant_id: UUID, data_key: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE)
    return nonce + AESGCM(kek).encrypt(nonce, data_key, _aad(tenant_id))


def _open(kek: bytes, tenant_id: UUID, inner: bytes) -> bytes:
    try:
        return AESGCM(kek).decrypt(inner[:_NONCE], inner[_NONCE:], _aad(tenant_id))
    except InvalidTag:
        raise DecryptionError(f"tenant {tenant_id}: the KEK does not open its data key") from None


async def _kek(storage: Storage, tenant_id: UUID, kek_id: str) -> bytes:
    key = _kek_key(tenant_id, kek_id)
    try:
        blob, _ = await storage.get(key)
    except StorageError as exc:
        if exc.transient:
            raise
        raise DecryptionError(
            f"tenant {tenant_id}: its key-encryption key {key} is missing from storage"
            " (deleted at offboarding, or the storage is not the one this database uses)"
        ) from None
    return blob


async def tenant_cipher(
    conn: Conn, keyring: Keyring, storage: Storage, tenant_id: UUID
) -> TenantCipher:
    """The tenant's cipher; its data key (and KEK) are made on first use, race-safe."""
    for _ in range(3):
        row = await tenants.key_row(conn, tenant_id=tenant_id)
        wrapped, kek_id = row["data_key_wrapped"], row["kek_id"]
        if wrapped is not None:
            try:
                outer = keyring.unwrap(tenant_id, bytes(wrapped), row["master_key_id"])
            except DecryptionError as exc:
                raise DecryptionError(f"tenant {tenant_id}: {exc}") from None
            if kek_id is not None:
                kek = await _kek(storage, tenant_id, kek_id)
                return TenantCipher(tenant_id, _open(kek, tenant_id, outer))
            data_key = outer  # made before KEKs: give it one now, same data key
        else:
            data_key = new_data_key()
        new_id = secrets.token_hex(8)
        kek = secrets.token_bytes(32)
        await storage.put(_kek_key(tenant_id, new_id), kek, "application/octet-stream")
        stored = await tenants.store_key(
            conn,
            tenant_id=tenant_id,
            wrapped=keyring.wrap(tenant_id, _seal(kek, tenant_id, data_key)),
            master_key_id=keyring.current_id,
            kek_id=new_id,
        )
        if stored:
            return TenantCipher(tenant_id, data_key)
        await storage.delete(_kek_key(tenant_id, new_id))  # another process won; use theirs
    raise DecryptionError(f"tenant {tenant_id}: its key kept changing while being read")


async def shred(storage: Storage, tenant_id: UUID) -> int:
    """Delete the tenant's KEKs: every ciphertext of theirs, anywhere, is unreadable."""
    deleted = 0
    async for obj in storage.list(keys.kek_prefix(tenant_id)):
        await storage.delete(obj.key)
        deleted += 1
    return deleted
