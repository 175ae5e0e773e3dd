"""Numbered plain-SQL migrations, applied in order and recorded in ``schema_migrations``.

Files live in ``shared/db/migrations`` as ``NNNN_name.sql``. :func:`migrate` holds a
transaction-level advisory lock while it works, so two processes starting at once
apply each step exactly once; every step runs in its own transaction with its record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from shared.db.pool import Conn
from shared.logging import get_logger

log = get_logger("parley.db.migrate")

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# An arbitrary constant shared by every Parley process: "parley" in ASCII.
_LOCK_ID = 0x7061726C6579

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class SchemaError(Exception):
    """The database's schema is not the one this code expects."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """Every migration shipped with this code, in order."""
    found = []
    for entry in resources.files("shared.db").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise SchemaError(f"two migration files share a number: {versions}")
    return found


async def migrate(conn: Conn) -> list[int]:
    """Apply every pending migration; return the versions applied by this call."""
    applied_now: list[int] = []
    for migration in load_migrations():
        async with conn.transaction():
            # Waits while another process migrates; released at the end of the step.
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            await conn.execute(_CREATE_TABLE)
            cur = await conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
            )
            if await cur.fetchone():
                continue
            await conn.execute(migration.sql.encode())
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied_now.append(migration.version)
            log.info("migration applied", version=migration.version, name=migration.name)
    return applied_now


async def check_schema(conn: Conn) -> None:
    """Fail clearly when the database lacks migrations this code needs, or has newer ones."""
    expected = {m.version for m in load_migrations()}
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
    row = await cur.fetchone()
    if not row or not row["present"]:
        raise SchemaError("the database has no Parley schema; run `parley migrate`")
    cur = await conn.execute("SELECT version FROM schema_migrations")
    present = {r["version"] for r in await cur.fetchall()}
    if missing := sorted(expected - present):
        raise SchemaError(f"migrations {missing} are not applied; run `parley migrate`")
    if newer := sorted(present - expected):
        raise SchemaError(f"the database has migrations {newer} that this code does not know")
