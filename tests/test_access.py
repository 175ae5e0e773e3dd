"""Every route × every kind of caller × own and other tenant.

The walk reads the admin app's endpoint table, so a new route that forgets its check
(or leaks another tenant's objects) fails here without anyone writing a new test.
"""

from __future__ import annotations

import re

import pytest

from functions.admin.app import ENDPOINTS
from shared.http.endpoints import Endpoint

ADMIN_ROUTES = [ep for ep in ENDPOINTS if isinstance(ep, Endpoint)]


def fill(path: str, tenant) -> str:
    ids = {
        "tenant_id": tenant.tenant_id,
        "bot_id": tenant.bot_id,
        "faq_id": tenant.faq_id,
        "conversation_id": tenant.conversation_id,
        "key_id": tenant.publishable_key_id,
        "doc_id": tenant.document_id,
        "user_id": tenant.user_id,
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m[1]]), path)


# A valid body for every route that takes one, so the walk reaches the access checks
# behind validation. A new route with a body must add its sample here.
SAMPLES: dict[str, dict[str, object]] = {
    "POST /v1/admin/tenants": {"slug": "shop-new", "name": "New"},
    "PATCH /v1/admin/tenants/{tenant_id}": {"name": "Renamed"},
    "POST /v1/admin/bots": {"tenant_id": "{tenant_id}", "name": "Second bot"},
    "PATCH /v1/admin/bots/{bot_id}": {"name": "Renamed bot", "faq_threshold": 0.5},
    "POST /v1/admin/bots/{bot_id}/faqs": {"question": "Open on Sunday?", "answer": "No."},
    "PATCH /v1/admin/bots/{bot_id}/faqs/{faq_id}": {"answer": "Yes."},
    "POST /v1/admin/bots/{bot_id}/preview": {"question": "Where is the shop?"},
    "POST /v1/admin/bots/{bot_id}/gaps/dismiss": {"phrasings": ["where is the shop"]},
    "PATCH /v1/admin/users/{user_id}": {"password": "a brand new password"},
    "POST /v1/admin/conversations/{conversation_id}/take": {"operator": "Anna"},
    "POST /v1/admin/conversations/{conversation_id}/messages": {"text": "Hello, Anna here."},
    "POST /v1/admin/api-keys": {"tenant_id": "{tenant_id}", "kind": "secret"},
    "POST /v1/admin/users": {
        "username": "colleague",
        "password": "long enough pw",
        "role": "saas_user",
        "tenant_id": "{tenant_id}",
    },
}
RAW_SAMPLES = {
    "POST /v1/admin/bots/{bot_id}/documents": b"# Opening hours\n\nMonday to Friday.\n",
    "POST /v1/admin/bots/{bot_id}/faqs/import": b'{"question": "Q?", "answer": "A."}\n',
}


async def call(client, ep: Endpoint, path: str, token: str | None, tenant=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    key = f"{ep.method} {ep.path}"
    if key in RAW_SAMPLES:
        return await client.request(ep.method, path, headers=headers, content=RAW_SAMPLES[key])
    body = SAMPLES.get(key)
    if ep.body is not None:
        assert body is not None, f"add a sample body for {key} to SAMPLES"
        if tenant is not None:
            body = {
                k: (str(tenant.tenant_id) if v == "{tenant_id}" else v) for k, v in body.items()
            }
    return await client.request(ep.method, path, headers=headers, json=body)


@pytest.mark.parametrize("ep", ADMIN_ROUTES, ids=lambda ep: f"{ep.method} {ep.path}")
async def test_route_access(ep, admin_client, world):
    a, b = world.tenants["a"], world.tenants["b"]
    if ep.access.public:
        assert ep.path == "/v1/admin/login"
        return
    own, other = fill(ep.path, a), fill(ep.path, b)
    destructive = ep.method == "DELETE" or ep.path.endswith("/logout")

    # no credentials, garbage, and a bot's publishable key: never in
    for token in (None, "sk_" + "x" * 60, a.publishable_key):
        response = await call(admin_client, ep, own, token, a)
        assert response.status_code in (401, 403), (token, response.text)
        assert response.json()["error"]["code"] in ("unauthorized", "forbidden")

    callers = [
        (a.session, "session", "saas_user"),
        (a.secret_key, "secret_key", "saas_user"),
        (world.admin_session, "session", "admin"),
        (world.admin_key, "secret_key", "admin"),
    ]
    done_own = done_other = False
    for token, credential, role in callers:
        allowed = credential in ep.access.credentials and role in ep.access.roles
        if not allowed:
            response = await call(admin_client, ep, own, token, a)
            assert response.status_code == 403, (role, credential, response.text)
            continue
        if "{" in ep.path and role == "saas_user":
            # another tenant's object: 404, and nothing of it (or of ours) leaks
            response = await call(admin_client, ep, other, token, b)
            assert response.status_code == 404, (other, response.text)
            assert b.visitor_text not in response.text
        if role == "saas_user" and not (destructive and done_own):
            response = await call(admin_client, ep, own, token, a)
            assert response.status_code not in (401, 403, 404, 500), (own, response.text)
            done_own = True
        if role == "admin" and not (destructive and done_other):
            # an admin reaches every tenant's objects
            response = await call(admin_client, ep, other, token, b)
            assert response.status_code not in (401, 403, 404, 500), (other, response.text)
            done_other = True


async def test_listings_never_show_another_tenants_objects(admin_client, world):
    a, b = world.tenants["a"], world.tenants["b"]
    headers = world.headers(a.session)
    for path in ("/v1/admin/tenants", "/v1/admin/bots", "/v1/admin/api-keys", "/v1/admin/users"):
        body = (await admin_client.get(path, headers=headers)).text
        assert str(b.tenant_id) not in body, path
        assert str(a.tenant_id) in body, path
    every = await admin_client.get("/v1/admin/tenants", headers=world.headers(world.admin_key))
    assert {t["slug"] for t in every.json()["items"]} == {"shop-a", "shop-b"}


async def test_the_inbox_never_shows_another_tenants_conversations(admin_client, world, conn):
    a, b = world.tenants["a"], world.tenants["b"]
    await conn.execute(
        "UPDATE conversations SET state = 'waiting', waiting_since = now() WHERE id = ANY(%s)",
        ([a.conversation_id, b.conversation_id],),
    )
    own = await admin_client.get("/v1/admin/inbox", headers=world.headers(a.session))
    assert [i["id"] for i in own.json()["items"]] == [str(a.conversation_id)]
    assert b.visitor_text not in own.text
    every = await admin_client.get("/v1/admin/inbox", headers=world.headers(world.admin_key))
    assert {i["id"] for i in every.json()["items"]} == {
        str(a.conversation_id),
        str(b.conversation_id),
    }


async def test_saas_user_cannot_create_in_another_tenant(admin_client, world):
    a, b = world.tenants["a"], world.tenants["b"]
    headers = world.headers(a.session)
    response = await admin_client.post(
        "/v1/admin/bots", headers=headers, json={"tenant_id": str(b.tenant_id), "name": "Sneaky"}
    )
    assert response.status_code == 404
    response = await admin_client.post(
        "/v1/admin/api-keys",
        headers=headers,
        json={"tenant_id": str(a.tenant_id), "kind": "publishable", "bot_id": str(b.bot_id)},
    )
    assert response.status_code == 404
    response = await admin_client.post(
        "/v1/admin/api-keys",
        headers=headers,
        json={"tenant_id": str(a.tenant_id), "kind": "secret", "role": "admin"},
    )
    assert response.status_code == 403
    response = await admin_client.post(
        "/v1/admin/users",
        headers=headers,
        json={
            "username": "intruder",
            "password": "long enough pw",
            "role": "saas_user",
            "tenant_id": str(b.tenant_id),
        },
    )
    assert response.status_code == 404
