"""Input PostgreSQL or the bucket cannot take is a clear 4xx, never a 500 (hardening items 4
and 7): a NUL character anywhere a visitor or an owner can type, a 300-character Unicode
file name."""

from __future__ import annotations

import pytest

from functions.chat.app import create_app as create_chat

NUL = "before\x00after"


@pytest.fixture
def chat(make_client, runtime):
    return make_client(create_chat(runtime))


def assert_nul_refused(response, field: str | None = None) -> None:
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert "NUL character" in response.text
    if field is not None:
        assert field in response.text


async def test_a_nul_in_a_chat_message_is_refused(chat, world):
    a = world.tenants["a"]
    headers = {"Authorization": f"Bearer {a.secret_key}"}
    refused = await chat.post(
        "/v1/chat", headers=headers, json={"message": NUL, "bot_id": str(a.bot_id)}
    )
    assert_nul_refused(refused, "message")
    fine = await chat.post(
        "/v1/chat", headers=headers, json={"message": "hello there", "bot_id": str(a.bot_id)}
    )
    assert fine.status_code == 200, fine.text


async def test_a_nul_in_faq_fields_and_search_and_filters_is_refused(admin_client, world):
    a = world.tenants["a"]
    headers = world.headers(a.session)
    faqs = f"/v1/admin/bots/{a.bot_id}/faqs"
    assert_nul_refused(
        await admin_client.post(faqs, headers=headers, json={"question": NUL, "answer": "x"}),
        "question",
    )
    assert_nul_refused(
        await admin_client.post(
            faqs,
            headers=headers,
            json={"question": "Q?", "alternatives": ["ok", NUL], "answer": "x"},
        ),
        "alternatives.1",
    )
    assert_nul_refused(await admin_client.get(faqs, headers=headers, params={"q": NUL}), "q")
    conversations = f"/v1/admin/bots/{a.bot_id}/conversations"
    for name in ("visitor_id", "q"):
        response = await admin_client.get(conversations, headers=headers, params={name: NUL})
        assert_nul_refused(response, name)
    # nothing was stored, and the search still works
    listed = await admin_client.get(faqs, headers=headers, params={"q": "before"})
    assert listed.status_code == 200
    assert all("\x00" not in f["question"] for f in listed.json()["items"])


async def test_a_long_unicode_file_name_is_shortened_keeping_its_type(
    admin_client, world, runtime, tmp_path
):
    from shared.storage.local import LocalStorage

    runtime.storage = LocalStorage(tmp_path / "files")
    a = world.tenants["a"]
    name = "Rücksendebedingungen für Zelte und Schlafsäcke " * 7 + ".md"
    assert len(name) > 300
    uploaded = await admin_client.post(
        f"/v1/admin/bots/{a.bot_id}/documents",
        params={"filename": name},
        content=b"# Returns\n\nTents can be returned within 30 days.",
        headers=world.headers(a.session),
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["status"] == "ready"
    [stored] = [p.name for p in (tmp_path / "files").rglob("*.md")]
    assert stored.endswith(".md")
    assert len(stored) <= 200
    assert stored.startswith("Rücksendebedingungen")


@pytest.mark.parametrize("field", ["allowed_origins", "language", "instructions", "name"])
async def test_null_where_a_bot_setting_cannot_be_empty_is_a_422(admin_client, world, field):
    """Hardening item 10: what the OpenAPI fuzzer found (a 500 from PostgreSQL before)."""
    a = world.tenants["a"]
    headers = world.headers(world.admin_session)
    patched = await admin_client.patch(
        f"/v1/admin/bots/{a.bot_id}", headers=headers, json={field: None}
    )
    assert patched.status_code == 422, patched.text
    assert f"{field} must not be null" in patched.text
    if field != "name":
        created = await admin_client.post(
            "/v1/admin/bots",
            headers=headers,
            json={"tenant_id": str(a.tenant_id), "name": "Second", field: None},
        )
        assert created.status_code == 422, created.text
    # null still clears what has a default
    cleared = await admin_client.patch(
        f"/v1/admin/bots/{a.bot_id}", headers=headers, json={"faq_threshold": None}
    )
    assert cleared.status_code == 200
    assert cleared.json()["faq_threshold"] is None


async def test_a_token_budget_too_big_for_the_database_is_a_422(admin_client, world, conn):
    """Found by the fuzzing suite (tests/test_fuzz.py): a 500 from PostgreSQL's bigint."""
    a = world.tenants["a"]
    headers = world.headers(world.admin_session)
    for request in (
        admin_client.patch(
            f"/v1/admin/bots/{a.bot_id}", headers=headers, json={"daily_token_budget": 2**63}
        ),
        admin_client.post(
            "/v1/admin/bots",
            headers=headers,
            json={"tenant_id": str(a.tenant_id), "name": "Big", "daily_token_budget": 2**63},
        ),
    ):
        response = await request
        assert response.status_code == 422, response.text
        assert "daily_token_budget" in response.text
    cur = await conn.execute("SELECT daily_token_budget FROM bots WHERE id = %s", (a.bot_id,))
    assert (await cur.fetchone())["daily_token_budget"] is None  # unchanged


async def test_a_threshold_too_fine_for_the_database_is_rounded(admin_client, world):
    """Found by the fuzzing suite: 4.2e-93 underflowed PostgreSQL's real (a 500)."""
    a = world.tenants["a"]
    response = await admin_client.patch(
        f"/v1/admin/bots/{a.bot_id}",
        headers=world.headers(world.admin_session),
        json={"faq_threshold": 4.2e-93},
    )
    assert response.status_code == 200, response.text
    assert response.json()["faq_threshold"] == 0


@pytest.mark.parametrize("field", ["question", "alternatives", "answer", "enabled"])
async def test_null_in_a_faq_update_is_a_422(admin_client, world, field):
    a = world.tenants["a"]
    response = await admin_client.patch(
        f"/v1/admin/bots/{a.bot_id}/faqs/{a.faq_id}",
        headers=world.headers(world.admin_session),
        json={field: None},
    )
    assert response.status_code == 422, response.text


def test_the_openapi_document_names_every_path_parameter():
    """Hardening item 10: OpenAPI tools can call every operation."""
    import re

    from openapi_spec_validator import validate

    from parley.server import api_document

    document = api_document()
    validate(document)  # the OpenAPI 3 document itself is valid, as tools will read it
    for path, operations in document["paths"].items():
        wanted = set(re.findall(r"\{(\w+)\}", path))
        for method, operation in operations.items():
            given = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            if method != "get" or "101" not in operation["responses"]:
                assert given == wanted, (method, path)
        if path == "/v1/admin/tenants":
            assert "409" in operations["post"]["responses"]
