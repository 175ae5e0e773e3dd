"""Ingestion through real boto3 calls against moto's S3 server and the real database:
each trigger, each format, exactly-once effects, failures that stay visible, retries."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from urllib.parse import quote_plus

import pytest

from functions.ingest.app import create_app as create_ingest
from shared.db import bots, tenants
from shared.db.pool import Database
from shared.ingest.pipeline import reconcile
from shared.ingest.poll import poll
from shared.storage.base import StorageError
from shared.storage.s3 import S3Storage
from tests.utils.files import text_pdf

SECRET = "webhook-secret-123"
RETURNS_MD = b"# Returns policy\n\n## Refunds\n\nWe refund within 5 working days.\n"


@pytest.fixture
async def bucket_runtime(runtime, s3_bucket, moto_url):
    name, client = s3_bucket
    runtime.settings = runtime.settings.model_copy(update={"ingest_secret": None})
    runtime.storage = S3Storage(name, endpoint_url=moto_url, region="us-east-1")
    async with runtime.db.connection() as conn:
        tenant = await tenants.create_tenant(conn, slug="shop", name="Shop")
        bot = await bots.create_bot(
            conn, tenant_id=tenant["id"], slug="help", name="Help", settings={}
        )
    return runtime, client, name, bot


def event(bucket: str, key: str, name: str = "ObjectCreated:Put", etag: str = "x"):
    return {
        "Records": [
            {
                "eventVersion": "2.0",
                "eventSource": "minio:s3",
                "eventName": f"s3:{name}",
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {"key": quote_plus(key), "eTag": etag, "sequencer": "1"},
                },
            }
        ]
    }


async def state(runtime):
    async with runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT d.source_uri, d.status, d.error, d.attempts, d.kind,"
            " (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS chunks,"
            " (SELECT string_agg(c.text, ' ' ORDER BY c.ord) FROM chunks c"
            "   WHERE c.document_id = d.id) AS text,"
            " (SELECT count(*) FROM faqs f WHERE f.source_document_id = d.id) AS faqs"
            " FROM documents d ORDER BY d.source_uri"
        )
        return {r["source_uri"].rsplit("/", 1)[-1]: r for r in await cur.fetchall()}


async def test_webhook_ingests_url_encoded_keys_with_either_secret_header(
    bucket_runtime, make_client
):
    runtime, client, name, _ = bucket_runtime
    runtime.settings = runtime.settings.model_copy(
        update={"ingest_secret": __import__("pydantic").SecretStr(SECRET)}
    )
    app = make_client(create_ingest(runtime))
    key = "shop/help/policies/returns policy.md"
    client.put_object(Bucket=name, Key=key, Body=RETURNS_MD)

    assert (await app.head("/v1/ingest/s3-events")).status_code == 200
    unauthorized = await app.post("/v1/ingest/s3-events", json=event(name, key))
    assert unauthorized.status_code == 401
    wrong = await app.post(
        "/v1/ingest/s3-events", json=event(name, key), headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    ok = await app.post(
        "/v1/ingest/s3-events", json=event(name, key), headers={"Authorization": f"Bearer {SECRET}"}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["results"][0]["action"] == "ingested"
    again = await app.post(
        "/v1/ingest/s3-events", json=event(name, key), headers={"X-Parley-Ingest-Secret": SECRET}
    )
    assert again.json()["results"][0]["action"] == "unchanged"
    docs = await state(runtime)
    assert docs["returns policy.md"]["status"] == "ready"
    assert "refund within 5 working days" in docs["returns policy.md"]["text"]
    bad = await app.post(
        "/v1/ingest/s3-events", content=b"{not json", headers={"X-Parley-Ingest-Secret": SECRET}
    )
    assert bad.status_code == 400


async def test_duplicates_reordering_and_removal_end_in_the_right_state(bucket_runtime):
    runtime, client, name, _ = bucket_runtime
    storage = runtime.get_storage()
    key = "shop/help/faq.md"
    client.put_object(Bucket=name, Key=key, Body=b"# Shipping\n\nOld text about parcels.\n")
    await reconcile(runtime, storage, key)
    client.put_object(Bucket=name, Key=key, Body=b"# Shipping\n\nNew text about parcels.\n")
    # the newer event first, then the older one again, then a duplicate
    for _ in range(3):
        await reconcile(runtime, storage, key)
    docs = await state(runtime)
    assert len(docs) == 1
    assert docs["faq.md"]["chunks"] == 1
    assert "New text" in docs["faq.md"]["text"]

    client.delete_object(Bucket=name, Key=key)
    await reconcile(runtime, storage, key)  # a late create event after the removal
    await reconcile(runtime, storage, key)  # and the removal event
    assert await state(runtime) == {}


async def test_two_workers_on_one_object_leave_one_document(bucket_runtime):
    runtime, client, name, _ = bucket_runtime
    key = "shop/help/guide.md"
    body = b"# Guide\n\n" + b"Tents and sleeping bags. " * 200
    client.put_object(Bucket=name, Key=key, Body=body)
    outcomes = await asyncio.gather(
        *(reconcile(runtime, runtime.get_storage(), key) for _ in range(3))
    )
    assert sorted(o.action for o in outcomes) == ["ingested", "unchanged", "unchanged"]
    docs = await state(runtime)
    assert len(docs) == 1
    async with runtime.db.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n, count(DISTINCT ord) AS ords FROM chunks")
        row = await cur.fetchone()
    assert row["n"] == row["ords"] == docs["guide.md"]["chunks"] > 1


async def test_every_format_and_every_failure_is_handled_on_its_own(bucket_runtime):
    runtime, client, name, _ = bucket_runtime
    files = {
        "shop/help/manual.pdf": text_pdf(["Tent manual\nPitch the tent.", "Care\nDry it."]),
        "shop/help/broken.pdf": b"%PDF-1.4\nthis is not really a pdf",
        "shop/help/page.html": (
            b"<html><head><title>Store hours</title><script>evil()</script>"
            b"</head><body><nav>Home | Shop</nav><h1>Store hours</h1>"
            b"<p>Open Monday to Saturday.</p><footer>(c) shop</footer>"
            b"</body></html>"
        ),
        "shop/help/notes.txt": "Öffnungszeiten: Montag bis Samstag.".encode("latin-1"),
        "shop/help/more.faq.csv": b"question,answer,alternatives\nDo you gift wrap?,Yes.,wrap\n",
        "shop/help/empty.md": b"   \n",
        "shop/help/letter.docx": b"PK\x03\x04 not supported",
        "elsewhere/readme.md": b"# Not for any bot\n\nText.",
    }
    for key, body in files.items():
        client.put_object(Bucket=name, Key=key, Body=body)
    counts = await poll(runtime, runtime.get_storage())
    assert counts == {"ingested": 4, "failed": 4}
    docs = await state(runtime)
    assert docs["manual.pdf"]["status"] == "ready"
    assert docs["manual.pdf"]["chunks"] == 2
    async with runtime.db.connection() as conn:
        cur = await conn.execute("SELECT page, heading FROM chunks ORDER BY page")
        pages = [(r["page"], r["heading"]) for r in await cur.fetchall() if r["page"]]
    assert [p for p, _ in pages] == [1, 2]
    assert "evil" not in docs["page.html"]["text"]
    assert "Home | Shop" not in docs["page.html"]["text"]
    assert "Open Monday to Saturday." in docs["page.html"]["text"]
    assert "Öffnungszeiten" in docs["notes.txt"]["text"]
    assert (docs["more.faq.csv"]["kind"], docs["more.faq.csv"]["faqs"]) == ("faq_file", 1)
    assert "corrupt" in docs["broken.pdf"]["error"]
    assert "empty" in docs["empty.md"]["error"]
    assert "unsupported file type .docx" in docs["letter.docx"]["error"]
    assert "maps to no bot" in docs["readme.md"]["error"]


async def test_changes_and_deletions_are_found_by_polling(bucket_runtime):
    runtime, client, name, _ = bucket_runtime
    storage = runtime.get_storage()
    client.put_object(Bucket=name, Key="shop/help/a.md", Body=b"# A\n\nfirst")
    client.put_object(Bucket=name, Key="shop/help/b.md", Body=b"# B\n\nsecond")
    assert await poll(runtime, storage) == {"ingested": 2}
    assert await poll(runtime, storage) == {"unchanged": 2}
    client.put_object(Bucket=name, Key="shop/help/a.md", Body=b"# A\n\nchanged")
    client.delete_object(Bucket=name, Key="shop/help/b.md")
    assert await poll(runtime, storage) == {"ingested": 1, "removed": 1}
    assert "changed" in (await state(runtime))["a.md"]["text"]


async def test_a_bulk_upload_is_taken_in_several_at_a_time_sharing_forward_passes(
    bucket_runtime, embedder
):
    runtime, client, name, bot = bucket_runtime
    await runtime.db.close()
    runtime.db = Database(runtime.db.url, max_size=20)  # the default pool: 16 reconciles at once
    for n in range(24):
        body = f"# Guide {n}\n\nParcel {n} ships within {n + 1} working days.".encode()
        client.put_object(Bucket=name, Key=f"shop/help/guide-{n:02d}.md", Body=body)
    local = embedder.inner
    batches: list[int] = []
    encode = local.encode

    def counting(texts):
        batches.append(len(texts))
        if len(batches) == 1:
            # The first pass held long enough for the other reconciles to be waiting: on a
            # fast model each pass could end before the next document is parsed, and then
            # nothing would be waiting to share one.
            time.sleep(0.5)
        return encode(texts)

    local.encode = counting
    try:
        assert await poll(runtime, runtime.get_storage()) == {"ingested": 24}
    finally:
        del local.encode
    docs = await state(runtime)
    assert len(docs) == 24
    assert all(d["status"] == "ready" and d["chunks"] == 1 for d in docs.values())
    assert "within 8 working days" in docs["guide-07.md"]["text"]
    assert max(batches) > 1  # documents waiting together were embedded in one batch
    assert sum(batches) == 24
    async with runtime.db.connection() as conn:
        current = await bots.get_bot(conn, scope=None, bot_id=bot["id"])
    assert current["kb_version"] == bot["kb_version"] + 24  # every document counted once


async def test_a_bulk_upload_leaves_connections_for_the_rest_of_the_process(
    bucket_runtime, embedder
):
    # GIVEN a bulk upload and a process whose pool (4 here) the chat path shares
    runtime, client, name, _ = bucket_runtime
    for n in range(12):
        client.put_object(
            Bucket=name, Key=f"shop/help/g{n}.md", Body=f"# G{n}\n\nText {n}.".encode()
        )
    local = embedder.inner
    entered, release = threading.Event(), threading.Event()
    encode = local.encode

    def held(texts):
        entered.set()
        release.wait(30)  # every reconcile under way keeps its connection meanwhile
        return encode(texts)

    local.encode = held
    try:
        # WHEN the poll's reconciles are all inside the model
        polling = asyncio.create_task(poll(runtime, runtime.get_storage()))
        assert await asyncio.to_thread(entered.wait, 30)
        await asyncio.sleep(0.2)  # let every worker that can take a connection take one
        # THEN another request still gets a connection at once
        async with runtime.db.connection(timeout=2) as conn:
            assert await (await conn.execute("SELECT 1 AS one")).fetchone() == {"one": 1}
        release.set()
        assert await polling == {"ingested": 12}
    finally:
        release.set()
        del local.encode


class Flaky(S3Storage):
    """Real S3 calls, with the first ``failures`` reads failing as an outage would."""

    def __init__(self, *args, failures: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.failures = failures

    async def get(self, key):
        if self.failures:
            self.failures -= 1
            raise StorageError("S3 get failed: ServiceUnavailable", transient=True)
        return await super().get(key)


async def test_an_s3_outage_is_retried_then_succeeds_or_stays_visible(bucket_runtime, moto_url):
    runtime, client, name, _ = bucket_runtime
    client.put_object(Bucket=name, Key="shop/help/c.md", Body=b"# C\n\ntext")
    flaky = Flaky(name, endpoint_url=moto_url, region="us-east-1", failures=2)
    outcome = await reconcile(runtime, flaky, "shop/help/c.md")
    assert (outcome.action, outcome.retries) == ("ingested", 2)

    client.put_object(Bucket=name, Key="shop/help/d.md", Body=b"# D\n\ntext")
    down = Flaky(name, endpoint_url=moto_url, region="us-east-1", failures=99)
    outcome = await reconcile(runtime, down, "shop/help/d.md")
    assert outcome.action == "failed"
    docs = await state(runtime)
    assert docs["d.md"]["status"] == "failed"
    assert "ServiceUnavailable" in docs["d.md"]["error"]
    assert docs["d.md"]["attempts"] == 1
    assert (await reconcile(runtime, runtime.get_storage(), "shop/help/d.md")).action == "ingested"


async def test_lambda_style_records_and_other_buckets(bucket_runtime):
    from functions.ingest.routes import handle_records

    runtime, client, name, _ = bucket_runtime
    client.put_object(Bucket=name, Key="shop/help/e.md", Body=b"# E\n\ntext")
    records = event(name, "shop/help/e.md")
    records["Records"].append(event("someone-elses", "x/y/z.md")["Records"][0])
    records["Records"][0]["eventSource"] = "aws:s3"
    results = await handle_records(runtime, records)
    assert [r["action"] for r in results] == ["ingested", "ignored"]
    json.dumps(results)  # serialisable for the HTTP and Lambda responses


async def test_admin_upload_to_local_storage_becomes_answerable(
    admin_client, world, runtime, tmp_path
):
    from shared.chat.turn import Question
    from shared.db import bots as bot_rows
    from shared.storage.local import LocalStorage

    runtime.storage = LocalStorage(tmp_path / "files")
    a = world.tenants["a"]
    url = f"/v1/admin/bots/{a.bot_id}/documents"
    body = b"# Care guide\n\n## Waxing boots\n\nRub beeswax into dry leather boots twice a year."
    uploaded = await admin_client.post(
        url, params={"filename": "care guide.md"}, content=body, headers=world.headers(a.session)
    )
    assert uploaded.status_code == 201, uploaded.text
    doc = uploaded.json()
    assert (doc["status"], doc["chunk_count"]) == ("ready", 1)
    assert (tmp_path / "files" / "shop-a" / "helper" / "uploads" / "care guide.md").exists()

    async with runtime.db.connection() as conn:
        bot = await bot_rows.get_bot(conn, scope=None, bot_id=a.bot_id)
    async with runtime.db.lease() as lease:
        question = Question("How often should I wax leather boots?", trusted=True)
        answer = await runtime.chat_service().handle(lease, bot, question)
    assert answer.source == "rag"
    assert "twice a year" in answer.answer

    multipart = await admin_client.post(
        url, files={"file": ("broken.pdf", b"%PDF nope")}, headers=world.headers(a.session)
    )
    assert multipart.json()["status"] == "failed"
    listed = await admin_client.get(url, headers=world.headers(a.session))
    assert {d["title"]: d["status"] for d in listed.json()["items"]}["broken.pdf"] == "failed"
    refused = await admin_client.post(
        url, params={"filename": "virus.exe"}, content=b"MZ", headers=world.headers(a.session)
    )
    assert refused.status_code == 422
    deleted = await admin_client.delete(f"{url}/{doc['id']}", headers=world.headers(a.session))
    assert deleted.status_code == 200
    assert not (tmp_path / "files" / "shop-a" / "helper" / "uploads" / "care guide.md").exists()


def test_poison_documents_fail_with_a_reason_instead_of_filling_memory(monkeypatch):
    """Hardening item 8: a PDF bomb, too many pages, too much text, too many passages."""
    from shared.ingest import parse as parsing
    from tests.utils.files import bomb_pdf

    bomb = bomb_pdf()
    assert len(bomb) < 1_000_000
    with pytest.raises(parsing.ParseError, match="expand beyond"):
        parsing.parse("shop/help/bomb.pdf", bomb)
    monkeypatch.setattr(parsing, "MAX_PAGES", 3)
    with pytest.raises(parsing.ParseError, match="5 pages; at most 3"):
        parsing.parse("shop/help/long.pdf", text_pdf([f"Page {n}" for n in range(5)]))
    monkeypatch.setattr(parsing, "MAX_TEXT_CHARS", 1_000)
    with pytest.raises(parsing.ParseError, match="more than 1,000 characters"):
        parsing.parse("shop/help/long.md", ("# Long\n\n" + "word " * 300).encode())
    with pytest.raises(parsing.ParseError, match="more than 1,000 characters"):
        parsing.parse("shop/help/long.pdf", text_pdf(["word " * 150, "word " * 150]))
    monkeypatch.setattr(parsing, "MAX_TEXT_CHARS", 5_000_000)
    monkeypatch.setattr(parsing, "MAX_CHUNKS", 2)
    sections = "".join(f"## Part {n}\n\nSome text about part {n}.\n\n" for n in range(5))
    with pytest.raises(parsing.ParseError, match="more than 2 passages"):
        parsing.parse("shop/help/parts.md", f"# Parts\n\n{sections}".encode())


async def test_an_s3_outage_loses_no_event_and_recovers_by_the_scheduled_poll(runtime, tmp_path):
    """Hardening items 11 and 12: during an outage the webhook's event fails visibly; once
    the bucket is back the scheduler's poll ingests it (nothing is lost); a parse failure is
    not re-parsed at every poll; new content counts its attempts afresh."""
    import boto3
    from moto.server import ThreadedMotoServer

    from functions.ingest.routes import handle_records
    from shared.scheduler import run_job
    from tests.utils.servers import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    client.create_bucket(Bucket="outage")
    runtime.storage = S3Storage("outage", endpoint_url=url, region="us-east-1")
    async with runtime.db.connection() as conn:
        tenant = await tenants.create_tenant(conn, slug="shop", name="Shop")
        await bots.create_bot(conn, tenant_id=tenant["id"], slug="help", name="Help", settings={})
    body = b"# Repairs\n\nSeams are repaired in ten working days."
    client.put_object(Bucket="outage", Key="shop/help/repairs.md", Body=body)
    server.stop()  # the bucket goes away just as its event arrives
    try:
        [failed] = await handle_records(runtime, event("outage", "shop/help/repairs.md"))
        assert failed["action"] == "failed"
    finally:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
    try:
        assert (await run_job(runtime, "poll"))["ingested"] == 1
        async with runtime.db.connection() as conn:
            cur = await conn.execute("SELECT status, attempts FROM documents")
            assert await cur.fetchall() == [{"status": "ready", "attempts": 1}]
        # a file that cannot be parsed fails once, and the next polls leave it alone
        client.put_object(Bucket="outage", Key="shop/help/broken.pdf", Body=b"%PDF nope")
        assert (await run_job(runtime, "poll"))["failed"] == 1
        assert (await run_job(runtime, "poll")) == {"unchanged": 2}
        # new content for it is new work: tried again, its attempts counted afresh
        client.put_object(Bucket="outage", Key="shop/help/broken.pdf", Body=b"%PDF still no")
        assert (await run_job(runtime, "poll"))["failed"] == 1
        async with runtime.db.connection() as conn:
            cur = await conn.execute(
                "SELECT attempts FROM documents WHERE source_uri LIKE '%broken.pdf'"
            )
            assert await cur.fetchone() == {"attempts": 1}
    finally:
        server.stop()
