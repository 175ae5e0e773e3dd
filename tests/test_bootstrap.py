"""First start: the admin account and the demo shop, each safe to run again."""

from __future__ import annotations

import pytest

from parley.server import prepare
from shared.bootstrap import demo_documents, demo_faqs, ensure_admin, seed_demo
from shared.crypto import Keyring
from shared.db import users
from shared.masterkey import MasterKeyMismatchError
from shared.passwords import verify_password


async def test_no_admin_gets_a_generated_password_once(conn, make_settings, db_url):
    settings = make_settings(DATABASE_URL=db_url)
    created = await ensure_admin(conn, settings)
    assert created is not None
    assert created.username == "admin"
    assert created.generated_password
    assert len(created.generated_password) >= 16
    user = await users.get_by_username(conn, username="ADMIN")
    assert user is not None
    assert user["role"] == "admin"
    assert verify_password(created.generated_password, user["password_hash"])
    assert created.generated_password not in user["password_hash"]
    assert await ensure_admin(conn, settings) is None  # an admin exists: nothing to do


async def test_configured_admin_is_created_then_its_password_updated(conn, make_settings, db_url):
    first = make_settings(
        DATABASE_URL=db_url, PARLEY_ADMIN_USERNAME="owner", PARLEY_ADMIN_PASSWORD="first-pass"
    )
    result = await ensure_admin(conn, first)
    assert result is not None
    assert result.generated_password is None
    second = make_settings(
        DATABASE_URL=db_url, PARLEY_ADMIN_USERNAME="Owner", PARLEY_ADMIN_PASSWORD="second-pass"
    )
    await ensure_admin(conn, second)
    user = await users.get_by_username(conn, username="owner")
    assert user is not None
    assert verify_password("second-pass", user["password_hash"])
    assert not verify_password("first-pass", user["password_hash"])
    assert await users.count_admins(conn) == 1


async def test_demo_seed_is_complete_and_idempotent(runtime, conn):
    first = await seed_demo(runtime.db, allowed_origins=["http://127.0.0.1:8000"])
    assert first.faqs_added == len(demo_faqs()) >= 30
    assert first.documents_added == len(demo_documents()) == 3

    async def snapshot():
        cur = await conn.execute(
            "SELECT (SELECT count(*) FROM faqs) AS faqs,"
            " (SELECT count(*) FROM faq_phrasings) AS phrasings,"
            " (SELECT count(*) FROM documents) AS documents,"
            " (SELECT kb_version FROM bots WHERE id = %s) AS kb_version",
            (first.bot_id,),
        )
        return await cur.fetchone()

    before = await snapshot()
    assert before["phrasings"] == sum(1 + len(f["alternatives"]) for f in demo_faqs())
    second = await seed_demo(runtime.db, allowed_origins=["http://127.0.0.1:8000"])
    assert (second.tenant_id, second.bot_id) == (first.tenant_id, first.bot_id)
    assert (second.faqs_added, second.documents_added) == (0, 0)
    assert await snapshot() == before


async def test_phrasings_are_searchable_in_the_bots_language(runtime, conn):
    seed = await seed_demo(runtime.db, allowed_origins=[])
    cur = await conn.execute(
        "SELECT f.question FROM faq_phrasings p JOIN faqs f ON f.id = p.faq_id"
        " WHERE p.bot_id = %s AND p.tsv @@ websearch_to_tsquery('english', 'refunds')",
        (seed.bot_id,),
    )
    questions = {row["question"] for row in await cur.fetchall()}
    assert "When will I get my refund?" in questions


async def test_prepare_refuses_a_different_master_key(runtime):
    await prepare(runtime)
    await prepare(runtime)  # the same key again is fine
    runtime.keyring = Keyring(bytes(32))
    with pytest.raises(MasterKeyMismatchError, match="not the key this database"):
        await prepare(runtime)


async def test_the_demo_follows_the_server_to_another_port(runtime, conn):
    first = await seed_demo(runtime.db, allowed_origins=["http://127.0.0.1:8000"])
    await seed_demo(runtime.db, allowed_origins=["http://127.0.0.1:9000"])
    cur = await conn.execute("SELECT allowed_origins FROM bots WHERE id = %s", (first.bot_id,))
    assert (await cur.fetchone())["allowed_origins"] == [
        "http://127.0.0.1:8000",
        "http://127.0.0.1:9000",
    ]
