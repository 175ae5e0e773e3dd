"""Encrypted database backups in the bucket: ``parley backup put|list|get``.

A backup is a ``pg_dump --format=custom`` of the whole database, sealed with AES-256-GCM
under a key derived from the master key (so a stolen bucket holds nothing readable, and
the backup needs the same master key as the data inside it anyway), stored as
``_parley/backups/<UTC time>.dump.enc``. The master key's id is in the header, so backups
made before a rotation open while the old key is in PARLEY_PREVIOUS_MASTER_KEYS. The dump
is held in memory while it is sealed: fine for the single-VM deployment this serves.

Restoring (docs/deploy.md): ``parley backup get NAME | pg_restore --clean --if-exists
--no-owner -d <db>``, then ``parley gdpr replay`` so erasures made after the backup hold.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.crypto import Keyring
from shared.storage.base import Storage
from shared.storage.keys import INTERNAL

PREFIX = f"{INTERNAL}backups/"
SUFFIX = ".dump.enc"
MAGIC = b"PARLEY-BACKUP-1\n"
_PURPOSE = b"parley database backup"
_ID_LENGTH = 16  # master_key_id's length
_NONCE = 12


class BackupError(Exception):
    """A backup is missing, corrupt, or sealed under a master key not configured."""


def seal(keyring: Keyring, dump: bytes) -> bytes:
    key_id = keyring.current_id.encode()
    header = MAGIC + key_id
    nonce = os.urandom(_NONCE)
    return header + nonce + AESGCM(keyring.derive(_PURPOSE)).encrypt(nonce, dump, header)


def unseal(keyring: Keyring, blob: bytes) -> bytes:
    if not blob.startswith(MAGIC):
        raise BackupError("not a Parley backup")
    header = blob[: len(MAGIC) + _ID_LENGTH]
    key_id = header[len(MAGIC) :].decode(errors="replace")
    try:
        key = keyring.derive(_PURPOSE, key_id)
    except KeyError:
        raise BackupError(
            f"sealed under master key {key_id}, which is not configured"
            " (put it in PARLEY_PREVIOUS_MASTER_KEYS)"
        ) from None
    body = blob[len(header) :]
    try:
        return AESGCM(key).decrypt(body[:_NONCE], body[_NONCE:], header)
    except InvalidTag:
        raise BackupError("the backup is corrupt or was altered") from None


async def names(storage: Storage) -> list[str]:
    """Every backup's name, oldest first."""
    found = [obj.key.removeprefix(PREFIX) async for obj in storage.list(PREFIX)]
    return sorted(n for n in found if n.endswith(SUFFIX))


async def put(
    storage: Storage, keyring: Keyring, dump: bytes, *, keep: int, now: datetime | None = None
) -> tuple[str, list[str]]:
    """Store ``dump`` sealed; delete all but the newest ``keep``. (name, deleted names)."""
    if not dump:
        raise BackupError("the dump is empty (did pg_dump fail?)")
    name = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ") + SUFFIX
    await storage.put(PREFIX + name, seal(keyring, dump), "application/octet-stream")
    stored = await names(storage)
    old = stored[: max(0, len(stored) - keep)]
    for each in old:
        await storage.delete(PREFIX + each)
    return name, old


async def get(storage: Storage, keyring: Keyring, name: str) -> bytes:
    if "/" in name or not name.endswith(SUFFIX):
        raise BackupError(f"{name!r} is not a backup name (see parley backup list)")
    if await storage.head(PREFIX + name) is None:
        raise BackupError(f"no backup {name!r} (see parley backup list)")
    blob, _ = await storage.get(PREFIX + name)
    return unseal(keyring, blob)
