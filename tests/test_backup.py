"""Encrypted backups in the bucket, and the restore procedure of docs/deploy.md, run for
real: pg_dump | parley backup put; parley backup get | pg_restore into an empty database;
the conversations are readable again with the master key. (That GDPR tombstones then erase
again what was erased after the backup is tests/test_gdpr.py's restore test.)"""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from shared import backup
from shared.crypto import Keyring
from shared.db.pool import Database
from shared.gdpr.export import collect
from shared.gdpr.subjects import Subject
from shared.runtime import Runtime
from tests.utils.pgtools import pg_tool

pytest_plugins = ["tests.chat_fixtures"]


def parley(env: dict[str, str], *args: str, stdin: bytes | None = None):
    return subprocess.run(
        [sys.executable, "-m", "parley", "backup", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env=env,
    )


async def test_a_backup_round_trip_restores_readable_conversations(
    chat_runtime, shop, chat_client, db_url, make_database
):
    marker = f"my parcel {os.urandom(4).hex()} went missing"
    answered = await chat_client.post("/v1/chat", headers=shop.headers(), json={"message": marker})
    visitor = answered.json()["visitor_id"]
    settings = chat_runtime.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env |= {
        "PARLEY_MASTER_KEY": base64.b64encode(chat_runtime.keyring.current).decode(),
        "PARLEY_DATA_DIR": str(settings.data_dir),  # the same (local) storage
    }

    dump = pg_tool("pg_dump", "--format=custom", "--dbname", db_url)
    stored = parley(env, "put", stdin=dump)
    assert stored.returncode == 0, stored.stderr
    [name] = parley(env, "list").stdout.decode().split()
    assert stored.stdout.decode().strip() == f"stored {name}"
    blob, _ = await chat_runtime.get_storage().get(backup.PREFIX + name)
    assert marker.encode() not in blob
    assert dump not in blob

    fetched = parley(env, "get", name)
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stdout == dump
    restored_url = make_database()
    pg_tool("pg_restore", "--no-owner", "--dbname", restored_url, stdin=fetched.stdout)
    restored = Runtime(
        settings=settings,
        db=Database(restored_url, max_size=2),
        keyring=chat_runtime.keyring,
        embedder=chat_runtime.embedder,
        storage=chat_runtime.get_storage(),
    )
    try:
        subject = Subject("visitor", shop.tenant_id, visitor, shop.bot_id)
        async with restored.db.connection() as conn:
            cipher = await restored.cipher(conn, shop.tenant_id)
            data, _ = await collect(restored, conn, cipher, subject)
        assert marker in repr(data)
    finally:
        await restored.aclose()


async def test_a_backup_needs_its_master_key_and_tampering_shows(chat_runtime, tmp_path):
    storage = chat_runtime.get_storage()
    old = chat_runtime.keyring
    name, _ = await backup.put(storage, old, b"PGDMP dump bytes", keep=5)
    rotated = Keyring(os.urandom(32), previous=[old.current])
    assert await backup.get(storage, rotated, name) == b"PGDMP dump bytes"
    with pytest.raises(backup.BackupError, match=f"master key {old.current_id}"):
        await backup.get(storage, Keyring(os.urandom(32)), name)
    blob, _ = await storage.get(backup.PREFIX + name)
    await storage.put(backup.PREFIX + name, blob[:-1] + bytes([blob[-1] ^ 1]), "x")
    with pytest.raises(backup.BackupError, match="corrupt or was altered"):
        await backup.get(storage, old, name)
    with pytest.raises(backup.BackupError, match="not a backup name"):
        await backup.get(storage, old, "../keys/x")


async def test_put_keeps_only_the_newest_backups(chat_runtime):
    from datetime import UTC, datetime, timedelta

    storage = chat_runtime.get_storage()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day in range(4):
        _, deleted = await backup.put(
            storage, chat_runtime.keyring, b"dump", keep=2, now=start + timedelta(days=day)
        )
    assert await backup.names(storage) == ["20260103T000000Z.dump.enc", "20260104T000000Z.dump.enc"]
    assert deleted == ["20260102T000000Z.dump.enc"]
