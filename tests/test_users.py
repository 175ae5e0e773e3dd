"""Dashboard users: who may create whom, and the new user can log in."""

from __future__ import annotations

from tests.utils.world import PASSWORD


async def test_saas_user_adds_a_colleague_who_can_log_in(admin_client, world):
    a = world.tenants["a"]
    created = await admin_client.post(
        "/v1/admin/users",
        headers=world.headers(a.session),
        json={
            "username": "helper.a",
            "password": "a long passphrase",
            "role": "saas_user",
            "tenant_id": str(a.tenant_id),
        },
    )
    assert created.status_code == 201
    assert "password" not in created.text
    login = await admin_client.post(
        "/v1/admin/login", json={"username": "helper.a", "password": "a long passphrase"}
    )
    assert login.json()["tenant_id"] == str(a.tenant_id)


async def test_only_admins_create_admins(admin_client, world):
    body = {"username": "second-root", "password": PASSWORD, "role": "admin"}
    denied = await admin_client.post(
        "/v1/admin/users", json=body, headers=world.headers(world.tenants["a"].session)
    )
    assert denied.status_code == 403
    created = await admin_client.post(
        "/v1/admin/users", json=body, headers=world.headers(world.admin_session)
    )
    assert created.status_code == 201
    taken = await admin_client.post(
        "/v1/admin/users", json=body, headers=world.headers(world.admin_session)
    )
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "username_taken")


async def test_weak_or_misplaced_users_are_refused(admin_client, world):
    admin = world.headers(world.admin_session)
    short = await admin_client.post(
        "/v1/admin/users",
        headers=admin,
        json={
            "username": "x-user",
            "password": "short",
            "role": "saas_user",
            "tenant_id": str(world.tenants["a"].tenant_id),
        },
    )
    assert short.status_code == 422
    no_tenant = await admin_client.post(
        "/v1/admin/users",
        headers=admin,
        json={"username": "x-user", "password": PASSWORD, "role": "saas_user"},
    )
    assert no_tenant.status_code == 422
