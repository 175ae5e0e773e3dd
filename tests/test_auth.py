"""Login, sessions, API keys: hashed at rest, shown once, revocable at once, never logged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg

from tests.utils.world import PASSWORD


async def login(client, username, password):
    return await client.post("/v1/admin/login", json={"username": username, "password": password})


async def test_login_logout_round_trip(admin_client, world):
    response = await login(admin_client, "Owner-A", PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"].startswith("ps_")
    assert body["role"] == "saas_user"
    assert body["tenant_id"] == str(world.tenants["a"].tenant_id)
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC) + timedelta(hours=1)
    headers = world.headers(body["token"])
    assert (await admin_client.get("/v1/admin/bots", headers=headers)).status_code == 200
    assert (await admin_client.post("/v1/admin/logout", headers=headers)).status_code == 200
    response = await admin_client.get("/v1/admin/bots", headers=headers)
    assert response.status_code == 401


async def test_failed_login_does_not_tell_whether_the_user_exists(admin_client, world):
    wrong_password = await login(admin_client, "owner-a", "not the password")
    no_such_user = await login(admin_client, "nobody", "not the password")
    assert wrong_password.status_code == no_such_user.status_code == 401
    assert wrong_password.json() == no_such_user.json()
    assert wrong_password.json()["error"]["code"] == "invalid_credentials"


async def test_login_attempts_are_rate_limited_per_username(admin_client, world):
    statuses = [(await login(admin_client, "owner-b", "guess")).status_code for _ in range(12)]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    limited = await login(admin_client, "owner-b", PASSWORD)
    assert limited.status_code == 429  # even the right password waits now
    assert int(limited.headers["retry-after"]) >= 1
    assert (await login(admin_client, "owner-a", PASSWORD)).status_code == 200


async def test_revoked_and_expired_keys_are_refused_at_once(admin_client, world, conn):
    a = world.tenants["a"]
    headers = world.headers(a.secret_key)
    assert (await admin_client.get("/v1/admin/bots", headers=headers)).status_code == 200
    response = await admin_client.delete(
        f"/v1/admin/api-keys/{a.secret_key_id}", headers=world.headers(a.session)
    )
    assert response.status_code == 200
    response = await admin_client.get("/v1/admin/bots", headers=headers)
    assert response.status_code == 401

    created = await admin_client.post(
        "/v1/admin/api-keys",
        headers=world.headers(a.session),
        json={
            "tenant_id": str(a.tenant_id),
            "kind": "secret",
            "name": "ci",
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
    )
    key = created.json()["key"]
    assert (await admin_client.get("/v1/admin/bots", headers=world.headers(key))).status_code == 200
    await conn.execute(
        "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = %s",
        (created.json()["id"],),
    )
    assert (await admin_client.get("/v1/admin/bots", headers=world.headers(key))).status_code == 401


async def test_keys_are_shown_once_and_stored_only_as_hashes(
    admin_client, world, db_url, log_stream
):
    a = world.tenants["a"]
    created = await admin_client.post(
        "/v1/admin/api-keys",
        headers=world.headers(a.session),
        json={"tenant_id": str(a.tenant_id), "kind": "publishable", "bot_id": str(a.bot_id)},
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("pk_")
    assert created.json()["prefix"] == key[:15]
    listing = await admin_client.get("/v1/admin/api-keys", headers=world.headers(a.session))
    assert key not in listing.text
    assert a.secret_key not in listing.text

    secrets = [key, a.secret_key, a.session, world.admin_key, PASSWORD]
    with psycopg.connect(db_url) as conn:  # the whole database, dumped as text
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        dump = ""
        for table in tables:
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()
            dump += repr(rows)
    for secret in secrets:
        assert secret not in dump
        assert secret.encode().hex() not in dump
    assert "never arrived" not in dump  # message text is encrypted
    assert key not in log_stream.getvalue()
    assert a.session not in log_stream.getvalue()


async def test_login_never_logs_the_password(admin_client, world, log_stream):
    await login(admin_client, "owner-a", PASSWORD)
    await login(admin_client, "owner-a", "wrong-" + PASSWORD)
    logs = log_stream.getvalue()
    assert PASSWORD not in logs
    assert all(json.loads(line) for line in logs.splitlines())


async def test_login_attempts_are_rate_limited_per_address(admin_client, world):
    statuses = [(await login(admin_client, f"user{n}", "guess")).status_code for n in range(31)]
    assert statuses[:30] == [401] * 30
    assert statuses[30] == 429
