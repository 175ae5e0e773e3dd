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
from shared.db.pool import Conn

KEY_FILE = "master.key"


class MasterKeyMismatchError(Exception):
    """The configured master key is not the one this database was set up with."""


def resolve_master_key(settings: Settings) -> bytes:
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


def key_id(key: bytes) -> str:
    """A short public name for a key, stored beside everything it wraps."""
    return hmac.new(key, b"parley master key id", hashlib.sha256).hexdigest()[:16]


def _check_value(key: bytes) -> bytes:
    return hmac.new(key, b"parley master key check", hashlib.sha256).digest()


async def verify_master_key(conn: Conn, key: bytes) -> None:
    """Record the key on first use; afterwards refuse any other key."""
    cur = await conn.execute(
        "INSERT INTO deployment (id, master_key_id, master_key_check) VALUES (true, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET master_key_id = COALESCE(deployment.master_key_id,"
        " EXCLUDED.master_key_id), master_key_check = COALESCE(deployment.master_key_check,"
        " EXCLUDED.master_key_check) RETURNING master_key_id, master_key_check",
        (key_id(key), _check_value(key)),
    )
    row = await cur.fetchone()
    assert row is not None
    if not hmac.compare_digest(bytes(row["master_key_check"]), _check_value(key)):
        raise MasterKeyMismatchError(
            "PARLEY_MASTER_KEY: not the key this database was set up with "
            f"(expected key id {row['master_key_id']}, got {key_id(key)}); "
            "use the original key, or `parley rotate-master-key` to change it"
        )
