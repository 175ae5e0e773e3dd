"""The deployment's master key: where it comes from, and proof it is the right one.

The master key wraps every tenant's data key (AES-256-GCM, see DESIGN.md §4). It comes
from ``PARLEY_MASTER_KEY``; on the local default (embedded database) a key is generated
once into ``<data-dir>/master.key`` with mode 0600. The database remembers a keyed hash
of the key, so starting with a different key is a clear error instead of garbage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from shared.config import ConfigError, Settings, decode_master_key
from shared.crypto import Keyring
from shared.db import deployment, tenants
from shared.db.pool import Conn

KEY_FILE = "master.key"


class MasterKeyMismatchError(Exception):
    """The configured master key is not the one this database was set up with."""


def resolve_keyring(settings: Settings) -> Keyring:
    """The current master key (configured or, locally, generated) and any previous ones."""
    return Keyring(_current_key(settings), settings.previous_master_keys())


def _current_key(settings: Settings) -> bytes:
    configured = settings.master_key_bytes()
    if configured is not None:
        return configured
    if not settings.embedded_database:
        raise ConfigError(
            "PARLEY_MASTER_KEY: required when DATABASE_URL is set "
            "(generate one with `openssl rand -base64 32` and keep it safe)"
        )
    return _local_key(settings.data_dir / KEY_FILE)


def _local_key(path: Path) -> bytes:
    if path.exists():
        try:
            return decode_master_key(path.read_text())
        except ValueError as exc:
            raise ConfigError(f"PARLEY_MASTER_KEY: the key in {path} {exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    return key


def _check_value(key: bytes) -> bytes:
    return hmac.new(key, b"parley master key check", hashlib.sha256).digest()


async def verify_master_key(conn: Conn, keyring: Keyring) -> None:
    """Record the current key on first use; afterwards refuse a key set that does not
    include the key the database was set up with (or last rotated to)."""
    row = await deployment.claim_master_key(
        conn, key_id=keyring.current_id, check=_check_value(keyring.current)
    )
    recorded = bytes(row["master_key_check"])
    if not any(hmac.compare_digest(recorded, _check_value(k)) for k in keyring.all_keys()):
        raise MasterKeyMismatchError(
            "PARLEY_MASTER_KEY: not the key this database was set up with "
            f"(expected key id {row['master_key_id']}, got {keyring.current_id}); "
            "use the original key, or `parley rotate-master-key` to change it"
        )


async def rotate_master_key(conn: Conn, keyring: Keyring) -> int:
    """Rewrap every tenant key under the keyring's current key, in one transaction.

    Data ciphertexts are untouched. Returns the number of tenant keys rewrapped.
    """
    rewrapped = 0
    async with conn.transaction():
        await verify_master_key(conn, keyring)
        for row in await tenants.keys_wrapped_by_other(conn, key_id=keyring.current_id):
            data_key = keyring.unwrap(
                row["id"], bytes(row["data_key_wrapped"]), row["master_key_id"]
            )
            await tenants.set_wrapped_key(
                conn,
                tenant_id=row["id"],
                wrapped=keyring.wrap(row["id"], data_key),
                key_id=keyring.current_id,
            )
            rewrapped += 1
        await deployment.set_master_key(
            conn, key_id=keyring.current_id, check=_check_value(keyring.current)
        )
    return rewrapped
