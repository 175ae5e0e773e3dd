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


async def test_a_password_reset_or_a_deactivation_ends_the_users_sessions(admin_client, world):
    a = world.tenants["a"]
    admin = world.headers(world.admin_session)
    user_path = f"/v1/admin/users/{a.user_id}"
    assert (
        await admin_client.get("/v1/admin/bots", headers=world.headers(a.session))
    ).status_code == 200

    reset = await admin_client.patch(
        user_path, headers=admin, json={"password": "a fresh long password"}
    )
    assert reset.status_code == 200, reset.text
    assert "password" not in reset.text
    assert (
        await admin_client.get("/v1/admin/bots", headers=world.headers(a.session))
    ).status_code == 401
    old = await admin_client.post(
        "/v1/admin/login", json={"username": "owner-a", "password": PASSWORD}
    )
    assert old.status_code == 401
    new = await admin_client.post(
        "/v1/admin/login", json={"username": "owner-a", "password": "a fresh long password"}
    )
    assert new.status_code == 200

    off = await admin_client.patch(user_path, headers=admin, json={"disabled": True})
    assert off.json()["disabled"] is True
    refused = await admin_client.post(
        "/v1/admin/login", json={"username": "owner-a", "password": "a fresh long password"}
    )
    assert refused.status_code == 401
    on = await admin_client.patch(user_path, headers=admin, json={"disabled": False})
    assert on.json()["disabled"] is False

    for body, code in (({}, "nothing_to_change"), ({"password": "short"}, "validation_error")):
        response = await admin_client.patch(user_path, headers=admin, json=body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == code


async def test_nobody_deactivates_themselves(admin_client, world):
    a = world.tenants["a"]
    response = await admin_client.patch(
        f"/v1/admin/users/{a.user_id}", headers=world.headers(a.session), json={"disabled": True}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "cannot_disable_self"
