"""Chat-log archiving to S3 (moto): encrypted per tenant, and safe across a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.db import bots, tenants
from shared.ingest.archive import archive, read_archive
from shared.storage.s3 import S3Storage
from tests.utils import rows


class Crash(Exception):
    pass


async def test_archive_survives_a_crash_between_upload_and_delete(runtime, s3_bucket, moto_url):
    name, client = s3_bucket
    storage = S3Storage(name, endpoint_url=moto_url, region="us-east-1")
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    async with runtime.db.connection() as conn:
        tenant = await tenants.create_tenant(conn, slug="shop", name="Shop")
        bot = await bots.create_bot(
            conn, tenant_id=tenant["id"], slug="help", name="Help", settings={"retention_days": 30}
        )
        keep_forever = await bots.create_bot(
            conn, tenant_id=tenant["id"], slug="other", name="Other", settings={}
        )
        cipher = await runtime.cipher(conn, tenant["id"])
        made = {}
        for label, age, bot_id in (
            ("old-1", 45, bot["id"]),
            ("old-2", 45, bot["id"]),
            ("recent", 5, bot["id"]),
            ("no-retention", 400, keep_forever["id"]),
        ):
            conv = await rows.create_conversation(
                conn, tenant_id=tenant["id"], bot_id=bot_id, visitor_id=label
            )
            await rows.add_message(
                conn,
                conversation_id=conv,
                bot_id=bot_id,
                role="user",
                content_enc=cipher.encrypt(f"question from {label}"),
            )
            await conn.execute(
                "UPDATE conversations SET last_message_at = %s WHERE id = %s",
                (now - timedelta(days=age), conv),
            )
            made[label] = conv

    async def crash(key: str) -> None:
        raise Crash(key)

    with pytest.raises(Crash):
        await archive(runtime, storage, now=now, after_upload=crash)
    async with runtime.db.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM conversations")
        assert (await cur.fetchone())["n"] == 4  # nothing lost
    listed = client.list_objects_v2(Bucket=name)["Contents"]
    assert len(listed) == 1

    totals = await archive(runtime, storage, now=now)
    assert totals == {"objects": 1, "conversations": 2, "messages": 2}
    assert await archive(runtime, storage, now=now) == {
        "objects": 0,
        "conversations": 0,
        "messages": 0,
    }
    listed = client.list_objects_v2(Bucket=name)["Contents"]
    assert len(listed) == 1  # the retry rewrote the same object, no second archive
    key = listed[0]["Key"]
    assert key == f"archives/shop/help/{(now - timedelta(days=45)).date()}/part-0000.jsonl.gz.enc"
    blob = client.get_object(Bucket=name, Key=key)["Body"].read()
    assert b"question from" not in blob  # encrypted at rest
    restored = read_archive(cipher, blob)
    assert sorted(c["visitor_id"] for c in restored) == ["old-1", "old-2"]
    assert {c["messages"][0]["text"] for c in restored} == {
        "question from old-1",
        "question from old-2",
    }
    async with runtime.db.connection() as conn:
        cur = await conn.execute("SELECT visitor_id FROM conversations ORDER BY visitor_id")
        assert [r["visitor_id"] for r in await cur.fetchall()] == ["no-retention", "recent"]
        cur = await conn.execute("SELECT object_key, conversation_count FROM archives")
        assert await cur.fetchall() == [{"object_key": key, "conversation_count": 2}]
