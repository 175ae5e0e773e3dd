"""The admin API's behaviour: CRUD, search, paging, import, KB versions, bad input."""

from __future__ import annotations

import pytest

from shared.faq_import import MAX_ALTERNATIVES
from shared.rag.faq_match import threshold_for


@pytest.fixture
def owner(world):
    return world.headers(world.tenants["a"].session)


async def kb_version(client, headers, bot_id):
    return (await client.get(f"/v1/admin/bots/{bot_id}", headers=headers)).json()["kb_version"]


async def test_tenant_and_bot_lifecycle(admin_client, world):
    admin = world.headers(world.admin_session)
    tenant = await admin_client.post(
        "/v1/admin/tenants", headers=admin, json={"slug": "new-shop", "name": "New Shop"}
    )
    assert tenant.status_code == 201
    tid = tenant.json()["id"]
    again = await admin_client.post(
        "/v1/admin/tenants", headers=admin, json={"slug": "new-shop", "name": "Twice"}
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "slug_taken")

    bot = await admin_client.post(
        "/v1/admin/bots",
        headers=admin,
        json={
            "tenant_id": tid,
            "name": "Shop Helper",
            "language": "de",
            "allowed_origins": ["https://Shop.example/", "https://shop.example"],
            "display": {"greeting": "Hallo!", "primary_color": "#112233"},
            "llm_chain": ["mistral", "openai"],
            "faq_threshold": 0.6,
            "retention_days": 90,
        },
    )
    assert bot.status_code == 201, bot.text
    body = bot.json()
    assert body["slug"] == "shop-helper"
    assert body["allowed_origins"] == ["https://shop.example"]
    assert body["display"]["greeting"] == "Hallo!"
    patched = await admin_client.patch(
        f"/v1/admin/bots/{body['id']}", headers=admin, json={"faq_threshold": 0.7, "name": "Helper"}
    )
    assert patched.json()["faq_threshold"] == pytest.approx(0.7)
    assert patched.json()["llm_chain"] == ["mistral", "openai"]  # untouched settings stay

    assert (await admin_client.delete(f"/v1/admin/tenants/{tid}", headers=admin)).status_code == 200
    gone = await admin_client.get(f"/v1/admin/bots/{body['id']}", headers=admin)
    assert gone.status_code == 404


async def test_a_tenant_slug_is_derived_from_its_name_and_stays_unique_and_editable(
    admin_client, world
):
    admin = world.headers(world.admin_session)
    # GIVEN no slug: it is derived from the name, as for a bot
    created = await admin_client.post(
        "/v1/admin/tenants", headers=admin, json={"name": "Fernwood Outfitters GmbH!"}
    )
    assert created.status_code == 201, created.text
    tenant = created.json()
    assert tenant["slug"] == "fernwood-outfitters-gmbh"
    # WHEN the same name comes again THEN the derived slug is taken: 409, nothing created
    again = await admin_client.post(
        "/v1/admin/tenants", headers=admin, json={"name": "Fernwood Outfitters GmbH"}
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "slug_taken")
    # AND the slug can be changed, but not to another tenant's
    renamed = await admin_client.patch(
        f"/v1/admin/tenants/{tenant['id']}", headers=admin, json={"slug": "fernwood"}
    )
    assert (renamed.json()["slug"], renamed.json()["name"]) == ("fernwood", tenant["name"])
    other = f"/v1/admin/tenants/{world.tenants['a'].tenant_id}"
    taken = (await admin_client.get(other, headers=admin)).json()["slug"]
    clash = await admin_client.patch(
        f"/v1/admin/tenants/{tenant['id']}", headers=admin, json={"slug": taken}
    )
    assert (clash.status_code, clash.json()["error"]["code"]) == (409, "slug_taken")
    still = await admin_client.get(f"/v1/admin/tenants/{tenant['id']}", headers=admin)
    assert still.json()["slug"] == "fernwood"
    # AND the OpenAPI document says the slug is optional and how it is derived
    schema = (await admin_client.get("/openapi.json")).json()["components"]["schemas"]
    create = schema["TenantCreate"]
    assert create["required"] == ["name"]
    assert "Derived from the name" in create["properties"]["slug"]["description"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"allowed_origins": ["javascript:alert(1)"]}, "allowed_origins"),
        ({"allowed_origins": ["https://shop.example/path"]}, "allowed_origins"),
        ({"language": "xx"}, "language"),
        ({"llm_chain": ["gpt9"]}, "llm_chain"),
        ({"faq_threshold": 1.5}, "faq_threshold"),
        ({"display": {"primary_color": "red; background: url(x)"}}, "display.primary_color"),
        ({"rate_limit_per_minute": "fast"}, "rate_limit_per_minute"),
        ({"colour": "blue"}, "colour"),
        # the URL patterns let these through; no client can follow them (the fuzzer stored
        # one, and echoing it back crashed Schemathesis's own URL parsing)
        ({"handoff_webhook_url": "http://[oops"}, "handoff_webhook_url"),
        ({"handoff_webhook_url": "https://shop.example:port/hook"}, "handoff_webhook_url"),
        ({"handoff_webhook_url": "https://:443/hook"}, "handoff_webhook_url"),
        ({"display": {"contact_url": "https://[::1/help"}}, "display.contact_url"),
    ],
)
async def test_bad_bot_settings_are_422_and_change_nothing(admin_client, world, owner, body, field):
    bot_id = world.tenants["a"].bot_id
    before = (await admin_client.get(f"/v1/admin/bots/{bot_id}", headers=owner)).json()
    response = await admin_client.patch(f"/v1/admin/bots/{bot_id}", headers=owner, json=body)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == field
    assert (await admin_client.get(f"/v1/admin/bots/{bot_id}", headers=owner)).json() == before


async def test_malformed_requests_are_4xx_never_500(admin_client, world, owner):
    bot_id = world.tenants["a"].bot_id
    cases = [
        ("PATCH", f"/v1/admin/bots/{bot_id}", b"{nope", 400),
        ("PATCH", f"/v1/admin/bots/{bot_id}", b"[]", 422),
        ("PATCH", "/v1/admin/bots/not-a-uuid", b"{}", 422),
        ("GET", f"/v1/admin/bots/{bot_id}/faqs?limit=0", None, 422),
        ("GET", f"/v1/admin/bots/{bot_id}/faqs?limit=abc", None, 422),
        ("GET", f"/v1/admin/bots/{bot_id}/analytics?from=yesterday", None, 422),
        (
            "POST",
            f"/v1/admin/bots/{bot_id}/faqs",
            b'{"question": "' + b"q" * 2_000_000 + b'"}',
            413,
        ),
    ]
    for method, path, content, status in cases:
        response = await admin_client.request(method, path, headers=owner, content=content)
        assert response.status_code == status, (method, path, response.text[:200])
        assert response.json()["error"]["code"]


async def test_faq_crud_search_paging_and_kb_version(admin_client, world, owner):
    bot_id = world.tenants["a"].bot_id
    version = await kb_version(admin_client, owner, bot_id)
    created = []
    for n in range(5):
        response = await admin_client.post(
            f"/v1/admin/bots/{bot_id}/faqs",
            headers=owner,
            json={
                "question": f"Do you ship parcel {n}?",
                "alternatives": [f"parcel {n} post"],
                "answer": f"Yes, parcel {n} ships.",
            },
        )
        assert response.status_code == 201
        created.append(response.json())
    assert await kb_version(admin_client, owner, bot_id) == version + 5

    first = await admin_client.get(f"/v1/admin/bots/{bot_id}/faqs?q=parcel&limit=2", headers=owner)
    assert [f["question"] for f in first.json()["items"]] == [
        "Do you ship parcel 0?",
        "Do you ship parcel 1?",
    ]
    assert first.json()["next_offset"] == 2
    last = await admin_client.get(
        f"/v1/admin/bots/{bot_id}/faqs?q=parcel&limit=2&offset=4", headers=owner
    )
    assert len(last.json()["items"]) == 1
    assert last.json()["next_offset"] is None
    by_alternative = await admin_client.get(f"/v1/admin/bots/{bot_id}/faqs?q=3 post", headers=owner)
    assert [f["id"] for f in by_alternative.json()["items"]] == [created[3]["id"]]
    wildcard = await admin_client.get(f"/v1/admin/bots/{bot_id}/faqs?q=%25", headers=owner)
    assert wildcard.json()["items"] == []  # a literal %, not a wildcard

    faq = created[0]
    crowded = await admin_client.patch(
        f"/v1/admin/bots/{bot_id}/faqs/{faq['id']}",
        headers=owner,
        json={"alternatives": [f"way {n}" for n in range(MAX_ALTERNATIVES + 1)]},
    )
    assert crowded.status_code == 422, crowded.text
    assert crowded.json()["error"]["code"] == "validation_error"
    at_most = [f"way {n}" for n in range(MAX_ALTERNATIVES)]
    full = await admin_client.patch(
        f"/v1/admin/bots/{bot_id}/faqs/{faq['id']}", headers=owner, json={"alternatives": at_most}
    )
    assert full.json()["alternatives"] == at_most
    edited = await admin_client.patch(
        f"/v1/admin/bots/{bot_id}/faqs/{faq['id']}",
        headers=owner,
        json={"alternatives": ["shipping parcel zero"]},
    )
    assert edited.json()["alternatives"] == ["shipping parcel zero"]
    deleted = await admin_client.delete(f"/v1/admin/bots/{bot_id}/faqs/{faq['id']}", headers=owner)
    assert deleted.status_code == 200
    assert await kb_version(admin_client, owner, bot_id) == version + 8  # not the refused edit


async def test_faq_phrasings_follow_edits(admin_client, world, owner, conn):
    bot_id = world.tenants["a"].bot_id
    faq_id = world.tenants["a"].faq_id
    await admin_client.patch(
        f"/v1/admin/bots/{bot_id}/faqs/{faq_id}",
        headers=owner,
        json={"question": "Opening hours?", "alternatives": ["When open?"]},
    )
    cur = await conn.execute(
        "SELECT text FROM faq_phrasings WHERE faq_id = %s ORDER BY ord", (faq_id,)
    )
    assert [r["text"] for r in await cur.fetchall()] == ["Opening hours?", "When open?"]

    async def rows() -> dict[str, tuple[int, list[float]]]:
        cur = await conn.execute(
            "SELECT id, text, embedding FROM faq_phrasings WHERE faq_id = %s", (faq_id,)
        )
        return {r["text"]: (r["id"], r["embedding"].to_list()) for r in await cur.fetchall()}

    # WHEN the owner adds an alternative, then drops another
    before = await rows()
    await admin_client.patch(
        f"/v1/admin/bots/{bot_id}/faqs/{faq_id}",
        headers=owner,
        json={"alternatives": ["When open?", "Open on Sundays?"]},
    )
    added = await rows()
    await admin_client.patch(
        f"/v1/admin/bots/{bot_id}/faqs/{faq_id}",
        headers=owner,
        json={"alternatives": ["Open on Sundays?"]},
    )
    dropped = await rows()
    # THEN the phrasings kept keep their rows and embeddings (not embedded again at every
    # edit), the new one is embedded, the dropped one is gone
    assert set(added) == {"Opening hours?", "When open?", "Open on Sundays?"}
    assert all(added[text] == before[text] for text in before)
    assert added["Open on Sundays?"][1] is not None
    assert set(dropped) == {"Opening hours?", "Open on Sundays?"}
    assert all(dropped[text] == added[text] for text in dropped)


async def test_import_is_all_or_nothing_with_bad_lines_by_number(admin_client, world, owner):
    bot_id = world.tenants["a"].bot_id
    url = f"/v1/admin/bots/{bot_id}/faqs/import"
    before = await admin_client.get(f"/v1/admin/bots/{bot_id}/faqs", headers=owner)
    bad = (
        b'{"question": "Q1?", "answer": "A1"}\n'
        b'{"question": "", "answer": "A2"}\n'
        b"not json\n"
        b'{"question": "Q4?", "answer": "A4", "alternatives": ["x"]}\n'
    )
    response = await admin_client.post(url, headers=owner, content=bad)
    assert response.status_code == 422
    error = response.json()["error"]
    assert [line["line"] for line in error["lines"]] == [2, 3]
    after = await admin_client.get(f"/v1/admin/bots/{bot_id}/faqs", headers=owner)
    assert after.json() == before.json()

    csv = (
        "question,answer,alternatives\n"
        "Do you gift wrap?,Yes for €3.,gift wrapping|wrap as a present\n"
        '"Open on holidays, too?",No.,\n'
    ).encode()
    response = await admin_client.post(
        url, headers={**owner, "content-type": "text/csv"}, content=csv
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"imported": 2}
    listed = await admin_client.get(f"/v1/admin/bots/{bot_id}/faqs?q=wrap", headers=owner)
    assert listed.json()["items"][0]["alternatives"] == ["gift wrapping", "wrap as a present"]


async def test_display_updates_keep_the_fields_not_sent(admin_client, world, owner):
    bot_id = world.tenants["a"].bot_id
    url = f"/v1/admin/bots/{bot_id}"
    await admin_client.patch(
        url,
        headers=owner,
        json={"display": {"title": "Shop A", "greeting": "Hello!", "primary_color": "#112233"}},
    )
    patched = await admin_client.patch(
        url, headers=owner, json={"display": {"greeting_delay_seconds": 5}}
    )
    display = patched.json()["display"]
    assert display["title"] == "Shop A"
    assert display["greeting"] == "Hello!"
    assert display["primary_color"] == "#112233"
    assert display["greeting_delay_seconds"] == 5


async def test_the_bot_counts_its_faqs_phrasings_as_they_change(
    admin_client, world, owner, conn, embedder
):
    """The count the default FAQ threshold follows (shared.rag.faq_match.threshold_for)."""
    bot_id = world.tenants["a"].bot_id

    async def per_faq() -> float | None:
        cur = await conn.execute("SELECT phrasings_per_faq FROM bots WHERE id = %s", (bot_id,))
        row = await cur.fetchone()
        return None if row["phrasings_per_faq"] is None else float(row["phrasings_per_faq"])

    cur = await conn.execute(
        "SELECT count(*) AS n, count(DISTINCT faq_id) AS faqs FROM faq_phrasings WHERE bot_id = %s",
        (bot_id,),
    )
    start = await cur.fetchone()
    # GIVEN a FAQ with four phrasings added to the bot's
    created = await admin_client.post(
        f"/v1/admin/bots/{bot_id}/faqs",
        headers=owner,
        json={
            "question": "Do you ship abroad?",
            "alternatives": ["Ship abroad?", "International shipping?", "Worldwide delivery?"],
            "answer": "Yes.",
        },
    )
    assert created.status_code == 201
    # THEN the bot's count reads them, and the API shows the threshold it gives
    assert await per_faq() == pytest.approx((start["n"] + 4) / (start["faqs"] + 1))
    shown = (await admin_client.get(f"/v1/admin/bots/{bot_id}", headers=owner)).json()
    assert shown["phrasings_per_faq"] == pytest.approx(await per_faq())
    calibration = embedder.calibration
    assert shown["default_faq_threshold"] == threshold_for(None, calibration, await per_faq())
    # WHEN the FAQ is disabled, THEN its phrasings no longer count
    await admin_client.patch(
        f"/v1/admin/bots/{bot_id}/faqs/{created.json()['id']}",
        headers=owner,
        json={"enabled": False},
    )
    assert await per_faq() == pytest.approx(start["n"] / start["faqs"])
