"""Encrypted backups in the bucket, and the restore procedure of docs/deploy.md, run for
real: pg_dump | parley backup put; parley backup get | pg_restore into an empty database;
the conversations are readable again with the master key. (That GDPR tombstones then erase
again what was erased after the backup is tests/test_gdpr.py's restore test.)"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared import backup
from shared.crypto import Keyring
from shared.db.pool import Database
from shared.gdpr.export import collect
from shared.gdpr.subjects import Subject
from shared.runtime import Runtime
from tests.utils.pgtools import pg_tool

pytest_plugins = ["tests.chat_fixtures"]
BACKUP_SCRIPT = Path(__file__).resolve().parents[1] / "infra" / "hetzner" / "backup.sh"


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


DOCKER = """#!/usr/bin/env bash
# docker compose, as infra/hetzner/backup.sh uses it, on this machine: the db container's
# pg_dump is the embedded server's, the scheduler container's parley is this checkout's.
echo "$COMPOSE_PROJECT_NAME $PARLEY_VERSION docker $*" >> "$STUB_LOG"
case "$*" in
  "compose exec -T db pg_dump --format=custom -U parley parley")
    if [ -n "${STUB_DUMP_FAILS:-}" ]; then printf 'PGDMP partial'; exit 1; fi
    exec "$PG_BIN/pg_dump" --format=custom --dbname "$STUB_DATABASE_URL" ;;
  "compose run --rm -T --no-deps scheduler parley "*)
    shift 7
    exec "$PYTHON" -m parley "$@" ;;
esac
exit 64
"""


async def test_the_nightly_backup_script_stores_a_restorable_dump_and_nothing_on_failure(
    chat_runtime, db_url, tmp_path
):
    from tests.utils.pgtools import PG_BIN

    root = tmp_path / "srv" / "parley"
    release = root / "releases" / "abc123"
    release.mkdir(parents=True)
    (root / "current").symlink_to(release)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "docker").write_text(DOCKER)
    (stubs / "docker").chmod(0o755)
    log = tmp_path / "calls.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env |= {
        "PATH": f"{stubs}:{env['PATH']}",
        "PARLEY_DEPLOY_ROOT": str(root),
        "PARLEY_BACKUP_KEEP": "3",
        "PARLEY_MASTER_KEY": base64.b64encode(chat_runtime.keyring.current).decode(),
        "PARLEY_DATA_DIR": str(chat_runtime.settings.data_dir),
        "PG_BIN": str(PG_BIN),
        "PYTHON": sys.executable,
        "STUB_DATABASE_URL": db_url,
        "STUB_LOG": str(log),
    }

    def run(**extra: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["bash", str(BACKUP_SCRIPT)],
            env=env | extra,
            capture_output=True,
            timeout=120,
            check=False,
        )

    done = run()
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == [
        "parley abc123 docker compose exec -T db pg_dump --format=custom -U parley parley",
        "parley abc123 docker compose run --rm -T --no-deps scheduler parley backup put --keep 3",
    ]
    storage = chat_runtime.get_storage()
    [name] = await backup.names(storage)
    dump = await backup.get(storage, chat_runtime.keyring, name)
    listed = pg_tool("pg_restore", "--list", stdin=dump).decode()
    assert "TABLE public conversations" in listed

    failed = run(STUB_DUMP_FAILS="1")
    assert failed.returncode != 0
    assert await backup.names(storage) == [name]  # a failed dump stores nothing
