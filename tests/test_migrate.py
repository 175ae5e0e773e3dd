"""Migrations: complete schema, idempotent, safe under concurrent starts."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from shared.db.migrate import SchemaError, check_schema, load_migrations, migrate
from shared.db.pool import Database

DESIGN_TABLES = {
    "tenants",
    "users",
    "sessions",
    "api_keys",
    "bots",
    "faqs",
    "faq_phrasings",
    "documents",
    "chunks",
    "conversations",
    "messages",
    "gdpr_requests",
    "archives",
    "rate_limits",
    "llm_usage_daily",
    "deployment",
    "schema_migrations",
}


async def table_names(db: Database) -> set[str]:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in await cur.fetchall()}


async def schema_fingerprint(db: Database) -> list[tuple[object, ...]]:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY 1, 2"
        )
        columns = [tuple(r.values()) for r in await cur.fetchall()]
        cur = await conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
        )
        return columns + [tuple(r.values()) for r in await cur.fetchall()]


@pytest.fixture
async def empty_db(make_database):
    db = Database(make_database(), max_size=4)
    yield db
    await db.close()


async def test_fresh_database_gets_every_table(empty_db):
    async with empty_db.connection() as conn:
        applied = await migrate(conn)
        await check_schema(conn)
    assert applied == [m.version for m in load_migrations()]
    assert await table_names(empty_db) >= DESIGN_TABLES


async def test_running_twice_changes_nothing(empty_db):
    async with empty_db.connection() as conn:
        await migrate(conn)
    before = await schema_fingerprint(empty_db)
    async with empty_db.connection() as conn:
        assert await migrate(conn) == []
    assert await schema_fingerprint(empty_db) == before


async def test_concurrent_starts_apply_each_step_once(make_database):
    url = make_database()

    async def one_process() -> list[int]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await migrate(conn)  # type: ignore[arg-type]

    results = await asyncio.gather(*(one_process() for _ in range(4)))
    applied = sorted(v for result in results for v in result)
    assert applied == [m.version for m in load_migrations()]
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT count(*) FROM schema_migrations")
        assert await cur.fetchone() == (len(load_migrations()),)


async def test_check_schema_names_the_missing_step(empty_db):
    async with empty_db.connection() as conn:
        with pytest.raises(SchemaError, match="no Parley schema"):
            await check_schema(conn)
        await migrate(conn)
        await conn.execute("DELETE FROM schema_migrations WHERE version = 1")
        with pytest.raises(SchemaError, match=r"migrations \[1\] are not applied"):
            await check_schema(conn)


async def test_no_global_vector_or_fulltext_index(empty_db):
    """Per-bot retrieval must not be steered onto a global HNSW or GIN index (DESIGN §4)."""
    async with empty_db.connection() as conn:
        await migrate(conn)
        cur = await conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            " AND (indexdef ILIKE '%%USING hnsw%%' OR indexdef ILIKE '%%USING gin%%')"
        )
        assert await cur.fetchall() == []
        cur = await conn.execute(
            "SELECT tablename FROM pg_indexes WHERE schemaname = 'public'"
            " AND indexdef LIKE '%%(bot_id)%%'"
        )
        assert {"chunks", "faq_phrasings"} <= {r["tablename"] for r in await cur.fetchall()}
