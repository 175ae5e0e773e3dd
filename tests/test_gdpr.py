"""GDPR erasure and export through the real API: Postgres, archives in moto's S3 (and the
local folder backend), the cache folder on disk, and a database dump.

A visitor types a unique marker; it is in their export, and after erasure it is in no
byte of a full ``pg_dump``, the cache folder or any decrypted archive object, while
another visitor's data is untouched.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from functions.admin.app import create_app as create_admin
from functions.chat.app import create_app as create_chat
from functions.gdpr.app import ENDPOINTS as GDPR_ENDPOINTS
from functions.gdpr.app import create_app as create_gdpr
from shared.db import gdpr as gdpr_db
from shared.gdpr import requests as gdpr_requests
from shared.gdpr.receipts import Asked
from shared.gdpr.subjects import Subject, contact_hash
from shared.http.endpoints import Endpoint
from shared.ingest.archive import archive, read_archive
from shared.storage.base import Storage
from shared.storage.local import LocalStorage
from shared.storage.s3 import S3Storage
from tests.chat_fixtures import make_shop, set_bot
from tests.utils.pgtools import pg_dump, pg_tool


class Crash(Exception):
    pass


@pytest.fixture(params=["s3", "local"])
async def storage(request, chat_runtime, tmp_path):
    store: Storage
    if request.param == "s3":
        name, _ = request.getfixturevalue("s3_bucket")
        store = S3Storage(
            name, endpoint_url=request.getfixturevalue("moto_url"), region="us-east-1"
        )
    else:
        store = LocalStorage(tmp_path / "bucket")
    chat_runtime.storage = store
    return store


@pytest.fixture
async def site(chat_runtime, storage, make_client):
    """The demo shop, its chat and GDPR functions, and two visitors who chatted."""
    shop = await make_shop(chat_runtime)
    chat = make_client(create_chat(chat_runtime))
    gdpr = make_client(create_gdpr(chat_runtime))
    marker = "ZQX" + uuid.uuid4().hex[:10].upper()
    other = "OTH" + uuid.uuid4().hex[:10].upper()

    async def say(text, **extra):
        response = await chat.post(
            "/v1/chat", headers=shop.headers(), json={"message": text, **extra}
        )
        assert response.status_code == 200, response.text
        return response.json()

    # visitor A: a FAQ question (cached), a follow-up with the marker, then a second
    # conversation that will be archived
    first = await say("what does delivery cost?")
    me = {"visitor_id": first["visitor_id"], "visitor_token": first["visitor_token"]}
    await say(f"my order {marker} never arrived", conversation_id=first["conversation_id"], **me)
    archived = await say(f"Which items can't be returned? Ref {marker}", **me)
    feedback = await chat.post(
        "/v1/chat/feedback",
        headers=shop.headers(),
        json={"message_id": archived["message_id"], "rating": -1, "comment": f"bad {marker}", **me},
    )
    assert feedback.status_code == 200, feedback.text
    # visitor B, whose old conversation shares the archive object with A's
    b_first = await say(f"do you ship to Canada? {other}")
    b = {"visitor_id": b_first["visitor_id"], "visitor_token": b_first["visitor_token"]}
    b_old = await say(f"Which items can't be returned? {other}", **b)
    async with chat_runtime.db.connection() as conn:
        cipher = await chat_runtime.cipher(conn, shop.tenant_id)
        await gdpr_db.set_contact(
            conn,
            conversation_id=first["conversation_id"],
            contact_enc=cipher.encrypt(f"jonas.{marker.lower()}@example.org"),
            contact_hash=contact_hash(cipher, f"Jonas.{marker}@Example.org"),
        )
        old = datetime.now(UTC) - timedelta(days=60)
        await conn.execute(
            "UPDATE conversations SET last_message_at = %s WHERE id = ANY(%s)",
            (old, [archived["conversation_id"], b_old["conversation_id"]]),
        )
    await set_bot(chat_runtime, shop.bot_id, retention_days=30)
    totals = await archive(chat_runtime, storage)
    assert totals["objects"] == 1
    assert totals["conversations"] == 2
    return {
        "shop": shop,
        "gdpr": gdpr,
        "marker": marker,
        "other": other,
        "me": me,
        "b": b,
        "first": first,
        "archived": archived,
    }


def _headers(site):
    return site["shop"].headers()


async def _export(site, who):
    response = await site["gdpr"].post("/v1/gdpr/export", headers=_headers(site), json=who)
    assert response.status_code == 200, response.text
    return response.json()


async def decrypted_archives(runtime, storage, tenant_id) -> list[str]:
    async with runtime.db.connection() as conn:
        cipher = await runtime.cipher(conn, tenant_id)
    texts = []
    async for obj in storage.list("archives/"):
        blob, _ = await storage.get(obj.key)
        assert site_marker_free_bytes(blob)
        texts.append(repr(read_archive(cipher, blob)))
    return texts


def site_marker_free_bytes(blob: bytes) -> bool:
    return b"ZQX" not in blob  # archives are sealed: no plaintext at rest, ever


def cache_bytes(runtime) -> bytes:
    folder = runtime.settings.data_dir / "cache"
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


async def test_export_then_erasure_reach_every_copy(site, chat_runtime, storage, db_url):
    marker, other, shop = site["marker"], site["other"], site["shop"]
    exported = await _export(site, site["me"])
    assert exported["request"]["status"] == "completed"
    assert exported["request"]["kind"] == "export"
    stored = {c["stored_in"] for c in exported["conversations"]}
    assert stored == {"database", "archive"}
    text = repr(exported)
    # messages in Postgres and in the archive, the feedback comment, the contact
    assert text.lower().count(marker.lower()) >= 4
    assert f"bad {marker}" in text
    assert f"jonas.{marker.lower()}@example.org" in text
    assert other not in text
    assert exported["request"]["counts"]["conversations"] == 2

    # the FAQ answer A's question put in the cache is there, seen from another process
    probe = (
        "import sys, uuid; from pathlib import Path; from shared.cache import AnswerCache;"
        "c = AnswerCache(Path(sys.argv[1]));"
        "print(c.get(uuid.UUID(sys.argv[2]), int(sys.argv[3]), 'what does delivery cost?'))"
    )
    async with chat_runtime.db.connection() as conn:
        kb = (await (await conn.execute("SELECT kb_version FROM bots")).fetchone())["kb_version"]

    def other_process_sees() -> str:
        folder = str(chat_runtime.settings.data_dir / "cache")
        return subprocess.run(
            [sys.executable, "-c", probe, folder, str(shop.bot_id), str(kb)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    assert other_process_sees() != "None"
    dump = pg_dump(db_url)
    assert site["me"]["visitor_id"].encode() in dump  # A's rows, text sealed at rest
    assert marker.encode() not in dump
    assert any(marker in t for t in await decrypted_archives(chat_runtime, storage, shop.tenant_id))

    response = await site["gdpr"].post("/v1/gdpr/erasure", headers=_headers(site), json=site["me"])
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["status"] == "completed"
    assert receipt["kind"] == "erasure"
    assert receipt["counts"]["conversations"] == 2
    assert receipt["counts"]["messages"] == 6
    assert receipt["counts"]["cache_entries"] >= 1
    assert receipt["counts"]["archive_objects"] == 1
    received = datetime.fromisoformat(receipt["received_at"])
    deadline = datetime.fromisoformat(receipt["deadline"])
    assert 28 <= (deadline - received).days <= 31

    dump = pg_dump(db_url)
    assert site["me"]["visitor_id"].encode() not in dump  # no row of A's is left
    assert site["b"]["visitor_id"].encode() in dump
    assert marker.encode() not in dump
    assert marker.lower().encode() not in dump
    assert other_process_sees() == "None"
    cache = cache_bytes(chat_runtime)
    assert marker.encode() not in cache
    assert marker.lower().encode() not in cache
    archives_now = await decrypted_archives(chat_runtime, storage, shop.tenant_id)
    assert len(archives_now) == 1  # rewritten, not deleted: B's conversation is in it
    assert marker not in archives_now[0]
    assert other in archives_now[0]

    # B is untouched; A's export is empty now; a second erasure completes with zero counts
    b_export = await _export(site, site["b"])
    assert repr(b_export).count(other) >= 2
    assert {c["stored_in"] for c in b_export["conversations"]} == {"database", "archive"}
    assert (await _export(site, site["me"]))["conversations"] == []
    again = await site["gdpr"].post("/v1/gdpr/erasure", headers=_headers(site), json=site["me"])
    assert again.status_code == 200
    assert set(again.json()["counts"].values()) == {0}

    # the receipt: the visitor with their token, not without it
    me = site["me"]
    url = f"/v1/gdpr/requests/{receipt['id']}"
    proof = {"X-Parley-Visitor-Id": me["visitor_id"], "X-Parley-Visitor-Token": me["visitor_token"]}
    got = await site["gdpr"].get(url, headers={**_headers(site), **proof})
    assert got.status_code == 200
    assert got.json()["id"] == receipt["id"]
    wrong = {**proof, "X-Parley-Visitor-Token": site["b"]["visitor_token"]}
    assert (await site["gdpr"].get(url, headers={**_headers(site), **wrong})).status_code == 404
    assert (await site["gdpr"].get(url, headers=_headers(site))).status_code == 404
    secret = {"Authorization": f"Bearer {shop.secret_key}"}
    assert (await site["gdpr"].get(url, headers=secret)).status_code == 200


async def test_a_wrong_token_erases_nothing_and_looks_like_an_unknown_visitor(
    site, chat_runtime, make_client
):
    me, marker = site["me"], site["marker"]
    forged = {"visitor_id": me["visitor_id"], "visitor_token": "vt_" + "A" * 32}
    unknown = {"visitor_id": "v_nobody", "visitor_token": "vt_" + "B" * 32}
    answers = []
    for who in (forged, unknown, {"visitor_id": me["visitor_id"]}):
        response = await site["gdpr"].post("/v1/gdpr/erasure", headers=_headers(site), json=who)
        assert response.status_code == 200, response.text
        body = response.json()
        answers.append((body["status"], body["counts"], sorted(body)))
        exported = await _export(site, who)
        assert exported["conversations"] == []
    assert answers[0] == answers[1] == answers[2]
    assert set(answers[0][1].values()) == {0}
    assert marker in repr(await _export(site, me))  # still all there

    admin = make_client(create_admin(chat_runtime))
    listed = await admin.get(
        "/v1/admin/gdpr-requests",
        headers={"Authorization": f"Bearer {site['shop'].secret_key}"},
    )
    assert listed.status_code == 200
    items = listed.json()["items"]
    erasures = [i for i in items if i["kind"] == "erasure"]
    assert len(erasures) == 3
    assert not any(i["verified"] for i in erasures)
    assert all(i["requested_by"] == "visitor" and i["deadline"] for i in items)
    assert marker not in listed.text
    assert me["visitor_id"] not in listed.text


async def test_a_crash_between_archive_rewrite_and_bookkeeping_is_finished_by_a_rerun(
    site, chat_runtime, storage
):
    shop, me, marker = site["shop"], site["me"], site["marker"]
    subject = Subject("visitor", shop.tenant_id, me["visitor_id"], shop.bot_id)

    async def crash(key: str) -> None:
        raise Crash(key)

    row = await gdpr_requests.erase(
        chat_runtime, subject, Asked("visitor"), after_archive_write=crash
    )
    assert row["status"] == "in_progress"
    assert row["error"] == "Crash"
    # the object is already rewritten; the conversations in Postgres are still there
    assert marker in repr(await _export(site, me))
    assert not any(
        marker in t for t in await decrypted_archives(chat_runtime, storage, shop.tenant_id)
    )
    finished = await gdpr_requests.resume(chat_runtime, idle_seconds=0)
    assert [r["id"] for r in finished] == [row["id"]]
    assert finished[0]["status"] == "completed"
    assert finished[0]["counts"]["archive_objects"] == 1
    assert finished[0]["subject_sealed"] is None
    assert (await _export(site, me))["conversations"] == []
    assert await gdpr_requests.resume(chat_runtime, idle_seconds=0) == []


async def test_the_shop_erases_by_conversation_and_by_contact(site, chat_runtime, make_client):
    shop, marker = site["shop"], site["marker"]
    secret = {"Authorization": f"Bearer {shop.secret_key}"}
    gdpr = site["gdpr"]
    by_contact = await gdpr.post(
        "/v1/gdpr/export", headers=secret, json={"contact": f" JONAS.{marker}@example.ORG "}
    )
    assert by_contact.status_code == 200, by_contact.text
    assert [c["id"] for c in by_contact.json()["conversations"]] == [
        site["first"]["conversation_id"]
    ]
    erased = await gdpr.post(
        "/v1/gdpr/erasure",
        headers=secret,
        json={"conversation_id": site["archived"]["conversation_id"]},
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["counts"]["archive_objects"] == 1
    erased = await gdpr.post(
        "/v1/gdpr/erasure", headers=secret, json={"contact": f"jonas.{marker}@example.org"}
    )
    assert erased.json()["counts"]["conversations"] == 1
    assert (await _export(site, site["me"]))["conversations"] == []

    # what a request may name
    for body, code in (
        ({}, "one_subject"),
        ({"bot_id": str(shop.bot_id)}, "one_subject"),
        ({"contact": "a@b.example", "conversation_id": str(uuid.uuid4())}, "one_subject"),
        ({"contact": "not an address"}, "validation_error"),
        ({"visitor_id": "v1", "surprise": 1}, "validation_error"),
    ):
        response = await gdpr.post("/v1/gdpr/erasure", headers=secret, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == code
    visitor_names_other = await gdpr.post(
        "/v1/gdpr/erasure",
        headers=_headers(site),
        json={"conversation_id": site["archived"]["conversation_id"]},
    )
    assert visitor_names_other.status_code == 422
    assert visitor_names_other.json()["error"]["code"] == "visitor_only"


async def test_gdpr_routes_check_who_asks(site, chat_runtime, world):
    gdpr, shop = site["gdpr"], site["shop"]
    a = world.tenants["a"]
    me = site["me"]
    for path in ("/v1/gdpr/erasure", "/v1/gdpr/export"):
        assert (await gdpr.post(path, json=me)).status_code == 401
        wrong_site = shop.headers(origin="https://evil.example")
        response = await gdpr.post(path, headers=wrong_site, json=me)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "origin_not_allowed"
        # another tenant's user naming our bot, or our conversation: 404, nothing touched
        for token in (a.secret_key, a.session):
            other = {"Authorization": f"Bearer {token}"}
            body = {"bot_id": str(shop.bot_id), "visitor_id": me["visitor_id"]}
            assert (await gdpr.post(path, headers=other, json=body)).status_code == 404
            body = {"conversation_id": site["first"]["conversation_id"]}
            assert (await gdpr.post(path, headers=other, json=body)).status_code == 404
    assert site["marker"] in repr(await _export(site, me))
    # an operator names any tenant's visitor; a contact needs the tenant
    admin = {"Authorization": f"Bearer {world.admin_key}"}
    response = await gdpr.post(
        "/v1/gdpr/export",
        headers=admin,
        json={"bot_id": str(shop.bot_id), "visitor_id": me["visitor_id"]},
    )
    assert response.status_code == 200
    assert site["marker"] in response.text
    response = await gdpr.post("/v1/gdpr/export", headers=admin, json={"contact": "x@y.example"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "tenant_id_required"
    # another tenant's receipts are not found
    receipt = (await gdpr.post("/v1/gdpr/erasure", headers=_headers(site), json=me)).json()
    other = {"Authorization": f"Bearer {a.secret_key}"}
    url = f"/v1/gdpr/requests/{receipt['id']}"
    assert (await gdpr.get(url, headers=other)).status_code == 404
    assert (await gdpr.get(url + "/download", headers=other)).status_code == 404


async def test_a_large_export_waits_for_download_then_expires(site, chat_runtime, monkeypatch):
    monkeypatch.setattr(gdpr_requests, "INLINE_EXPORT_BYTES", 100)
    gdpr, me = site["gdpr"], site["me"]
    response = await gdpr.post("/v1/gdpr/export", headers=_headers(site), json=me)
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["status"] == "completed"
    assert receipt["download_url"]
    proof = {"X-Parley-Visitor-Id": me["visitor_id"], "X-Parley-Visitor-Token": me["visitor_token"]}
    got = await gdpr.get(receipt["download_url"], headers={**_headers(site), **proof})
    assert got.status_code == 200, got.text
    assert "attachment" in got.headers["content-disposition"]
    assert site["marker"] in got.text
    assert got.json()["request"]["id"] == receipt["id"]
    key = (await _row(chat_runtime, receipt["id"]))["export_key"]
    blob, _ = await chat_runtime.get_storage().get(key)
    assert site["marker"].encode() not in blob  # sealed while it waits

    later = datetime.now(UTC) + gdpr_requests.EXPORT_TTL + timedelta(hours=1)
    assert await gdpr_requests.purge_exports(chat_runtime, now=later) == 1
    assert await chat_runtime.get_storage().head(key) is None
    gone = await gdpr.get(receipt["download_url"], headers={**_headers(site), **proof})
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "export_not_available"


async def _row(runtime, request_id):
    async with runtime.db.connection() as conn:
        return await gdpr_db.get_request(conn, request_id=uuid.UUID(request_id))


async def test_logs_never_hold_what_a_visitor_typed(site, chat_runtime, log_stream):
    await _export(site, site["me"])
    await site["gdpr"].post("/v1/gdpr/erasure", headers=_headers(site), json=site["me"])
    logged = log_stream.getvalue()
    assert "gdpr erasure completed" in logged
    assert site["marker"] not in logged
    assert site["marker"].lower() not in logged
    assert site["me"]["visitor_token"] not in logged


async def test_a_restored_backup_does_not_bring_an_erased_visitor_back(
    site, chat_runtime, storage, db_url, make_database, tmp_path
):
    from shared.db.pool import Database
    from shared.gdpr.replay import replay
    from shared.runtime import Runtime

    marker, me = site["marker"], site["me"]
    backup = tmp_path / "backup.dump"
    pg_tool("pg_dump", "-Fc", "-f", str(backup), "--dbname", db_url)
    await site["gdpr"].post("/v1/gdpr/erasure", headers=_headers(site), json=me)
    b_before = await _export(site, site["b"])

    restored_url = make_database()
    pg_tool("pg_restore", "--no-owner", "--dbname", restored_url, str(backup))
    restored = Runtime(
        settings=chat_runtime.settings,
        db=Database(restored_url, max_size=2),
        keyring=chat_runtime.keyring,
        embedder=chat_runtime.embedder,
        storage=storage,
    )
    try:
        subject = Subject("visitor", site["shop"].tenant_id, me["visitor_id"], site["shop"].bot_id)
        async with restored.db.connection() as conn:
            from shared.gdpr.export import collect

            cipher = await restored.cipher(conn, subject.tenant_id)
            data, _ = await collect(restored, conn, cipher, subject)
        assert marker in repr(data)  # the backup brought A back
        totals = await replay(restored)
        assert totals["tombstones"] == 1
        # its row, and its archive record (the object was rewritten before the restore)
        assert totals["conversations"] == 2
        async with restored.db.connection() as conn:
            data, _ = await collect(restored, conn, cipher, subject)
        assert data["conversations"] == []
        assert marker.encode() not in pg_dump(restored_url)
        b_subject = Subject(
            "visitor", site["shop"].tenant_id, site["b"]["visitor_id"], site["shop"].bot_id
        )
        async with restored.db.connection() as conn:
            b_data, _ = await collect(restored, conn, cipher, b_subject)
        assert len(b_data["conversations"]) == len(b_before["conversations"])
        assert (await replay(restored))["conversations"] == 0  # nothing left to do
    finally:
        await restored.aclose()


async def test_offboarding_leaves_no_readable_ciphertext_even_in_a_backup(
    site, chat_runtime, storage, db_url, world, make_client
):
    from shared.crypto import DecryptionError, TenantCipher
    from shared.tenant_keys import tenant_cipher

    shop = site["shop"]
    async with chat_runtime.db.connection() as conn:
        cur = await conn.execute(
            "SELECT data_key_wrapped, master_key_id, kek_id FROM tenants WHERE id = %s",
            (shop.tenant_id,),
        )
        backup_key = await cur.fetchone()
        cur = await conn.execute(
            "SELECT m.content_enc FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE c.tenant_id = %s LIMIT 1",
            (shop.tenant_id,),
        )
        backup_message = bytes((await cur.fetchone())["content_enc"])
        cipher = await chat_runtime.cipher(conn, shop.tenant_id)
        assert cipher.decrypt(backup_message)  # readable before
        cur = await conn.execute("SELECT slug FROM tenants WHERE id = %s", (shop.tenant_id,))
        slug = (await cur.fetchone())["slug"]
    assert backup_key["kek_id"] is not None
    assert [o async for o in storage.list(f"archives/{slug}/")]
    assert [o async for o in storage.list(f"_parley/keys/{shop.tenant_id}/")]

    admin = make_client(create_admin(chat_runtime))
    headers = {"Authorization": f"Bearer {world.admin_key}"}
    response = await admin.delete(f"/v1/admin/tenants/{shop.tenant_id}", headers=headers)
    assert response.status_code == 200, response.text
    audit = response.json()
    assert audit["kind"] == "offboarding"
    assert audit["status"] == "completed"
    assert audit["counts"]["conversations"] == 4  # two visitors, two each
    assert audit["counts"]["archive_objects"] == 1
    assert audit["counts"]["stored_objects"] >= 1
    assert audit["counts"]["cache_entries"] >= 1  # the FAQ answer A's question cached

    left = [o.key async for o in storage.list("")]
    # only the tenant's tombstone stays (so a restored backup is offboarded again)
    assert [k for k in left if slug in k or str(shop.tenant_id) in k] == [
        f"_parley/gdpr/tombstones/{shop.tenant_id}/{audit['id']}.json"
    ]
    dump = pg_dump(db_url)
    assert str(shop.tenant_id).encode() not in dump
    assert site["me"]["visitor_id"].encode() not in dump
    assert b"offboarding" in dump  # the audit row stays

    # a backup taken before: its wrapped key no longer opens, so its ciphertexts are noise
    async with chat_runtime.db.connection() as conn:
        await conn.execute(
            "INSERT INTO tenants (id, slug, name, data_key_wrapped, master_key_id, kek_id)"
            " VALUES (%s, 'restored', 'Restored', %s, %s, %s)",
            (
                shop.tenant_id,
                backup_key["data_key_wrapped"],
                backup_key["master_key_id"],
                backup_key["kek_id"],
            ),
        )
        with pytest.raises(DecryptionError, match="missing"):
            await tenant_cipher(conn, chat_runtime.keyring, storage, shop.tenant_id)
    outer = chat_runtime.keyring.unwrap(
        shop.tenant_id, bytes(backup_key["data_key_wrapped"]), backup_key["master_key_id"]
    )
    with pytest.raises(DecryptionError):  # the master key's layer alone is not the data key
        TenantCipher(shop.tenant_id, outer[:32]).decrypt(backup_message)
    listed = await admin.get("/v1/admin/gdpr-requests", headers=headers)
    assert any(i["id"] == audit["id"] for i in listed.json()["items"])


GDPR_ROUTES = [ep for ep in GDPR_ENDPOINTS if isinstance(ep, Endpoint)]


@pytest.mark.parametrize("ep", GDPR_ROUTES, ids=lambda ep: f"{ep.method} {ep.path}")
async def test_every_gdpr_route_checks_its_caller(ep, runtime, world, make_client):
    """The access walk for the GDPR function: no or bad credentials, another tenant's
    credentials, and each of the shop's and the operator's on the tenant's own request."""
    client = make_client(create_gdpr(runtime))
    a, b = world.tenants["a"], world.tenants["b"]

    def auth(token):
        return {"Authorization": f"Bearer {token}"} if token else {}

    own = {"bot_id": str(a.bot_id), "visitor_id": "visitor-a"}
    made = await client.post("/v1/gdpr/export", headers=auth(a.secret_key), json=own)
    request_id = made.json()["request"]["id"]
    path = ep.path.replace("{request_id}", request_id)

    async def call(token, headers=None):
        body = own if ep.method == "POST" else None
        return await client.request(
            ep.method, path, headers={**auth(token), **(headers or {})}, json=body
        )

    for token in (None, "sk_" + "x" * 60, "ps_" + "y" * 40):
        response = await call(token)
        assert response.status_code == 401, (token, response.text)
    wrong_site = await call(a.publishable_key, {"Origin": "https://b.example"})
    assert wrong_site.status_code == 403
    # another tenant: its shop finds nothing of ours; its widget cannot name our bot
    for token in (b.secret_key, b.session):
        assert (await call(token)).status_code == 404
    from_b = await call(b.publishable_key, {"Origin": "https://b.example"})
    assert from_b.status_code == (422 if ep.method == "POST" else 404)
    # our shop and an operator get through (a download only exists for large exports)
    for token in (a.secret_key, a.session, world.admin_key, world.admin_session):
        response = await call(token)
        if ep.path.endswith("/download"):
            assert response.json()["error"]["code"] == "export_not_available"
        else:
            assert response.status_code == 200, (token, response.text)


async def test_the_widget_may_call_the_gdpr_api_from_the_shops_site(runtime, make_client):
    """A browser on the shop's site preflights these calls (JSON body, bearer key, the
    visitor headers); the key's origin list, not CORS, decides who gets an answer."""
    client = make_client(create_gdpr(runtime))
    for path, headers in (
        ("/v1/gdpr/erasure", "authorization,content-type"),
        (
            "/v1/gdpr/requests/x/download",
            "authorization,x-parley-visitor-id,x-parley-visitor-token",
        ),
    ):
        response = await client.options(
            path,
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "POST" if "erasure" in path else "GET",
                "Access-Control-Request-Headers": headers,
            },
        )
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] in ("*", "https://shop.example")
        allowed = response.headers["access-control-allow-headers"].lower()
        assert all(h in allowed for h in headers.split(","))
